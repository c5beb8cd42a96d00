import { describe, expect, it } from "vitest";

import { formatMoney, ratePercent } from "./money";

describe("formatMoney", () => {
  it("formats the exact decimal string with the currency's symbol", () => {
    expect(formatMoney({ amount: "349.99", currency: "USD" })).toBe("$349.99");
    expect(formatMoney({ amount: "1234567.5", currency: "USD" })).toBe("$1,234,567.50");
    expect(formatMoney({ amount: "19.99", currency: "EUR" }, "de-DE")).toBe("19,99\u00a0€");
  });

  it("keeps amounts a float would round", () => {
    expect(formatMoney({ amount: "90071992547409.91", currency: "USD" })).toBe("$90,071,992,547,409.91");
    expect(formatMoney({ amount: "0.10", currency: "USD" })).toBe("$0.10");
  });

  it("shows what it cannot format as it came", () => {
    expect(formatMoney({ amount: "12.00", currency: "NOTACODE" })).toBe("12.00 NOTACODE");
    expect(formatMoney({ amount: "abc", currency: "USD" })).toBe("abc USD");
  });
});

describe("ratePercent", () => {
  it("reads the rate's decimal string as a percentage without a float", () => {
    expect(ratePercent("0.0725")).toBe("7.25 %");
    expect(ratePercent("0.2")).toBe("20 %");
    expect(ratePercent("0.19")).toBe("19 %");
    expect(ratePercent("0.000001")).toBe("0.0001 %");
    expect(ratePercent("0")).toBe("0 %");
  });

  it("shows what is not a rate as it came", () => {
    expect(ratePercent("abc")).toBe("abc");
  });
});
