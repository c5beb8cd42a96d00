import { describe, expect, it } from "vitest";

import { initialChoice, isSold, lineName, variantFor, type VariantLike } from "./variants";

function variant(id: string, colour: string, size: string, available: number): VariantLike {
  return {
    id,
    selectedOptions: [
      { name: "Colour", value: colour },
      { name: "Size", value: size },
    ],
    stock: { available },
  };
}

const tee = [variant("red-m", "Red", "M", 0), variant("red-l", "Red", "L", 3), variant("blue-m", "Blue", "M", 1)];

describe("choosing a variant", () => {
  it("names the variant with exactly the chosen values", () => {
    expect(variantFor(tee, { Colour: "Blue", Size: "M" })?.id).toBe("blue-m");
    expect(variantFor(tee, { Colour: "Blue", Size: "L" })).toBeUndefined();
    expect(variantFor(tee, { Colour: "Red" })).toBeUndefined();
  });

  it("starts with the first variant in stock", () => {
    expect(initialChoice(tee)).toEqual({ Colour: "Red", Size: "L" });
    expect(initialChoice([variant("x", "Red", "S", 0)])).toEqual({ Colour: "Red", Size: "S" });
  });

  it("treats a product without options as its own single variant", () => {
    const lamp: VariantLike[] = [{ id: "lamp", selectedOptions: [], stock: { available: 2 } }];
    expect(initialChoice(lamp)).toEqual({});
    expect(variantFor(lamp, {})?.id).toBe("lamp");
  });

  it("tells which values name a variant sold with the other choices", () => {
    expect(isSold(tee, { Colour: "Blue", Size: "M" }, "Size", "L")).toBe(false);
    expect(isSold(tee, { Colour: "Red", Size: "M" }, "Size", "L")).toBe(true);
  });
});

describe("a cart or order line's name", () => {
  it("adds the variant's title unless it is the product's name", () => {
    expect(lineName("Classic Tee", "Red / M")).toBe("Classic Tee, Red / M");
    expect(lineName("Desk Lamp", "Desk Lamp")).toBe("Desk Lamp");
  });
});
