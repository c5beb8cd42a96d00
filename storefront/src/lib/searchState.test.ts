import { describe, expect, it } from "vitest";

import { formatSearchState, parseSearchState, toFilter, withChange } from "./searchState";

describe("search state in the URL", () => {
  it("round-trips query, filters, sort and page", () => {
    const url =
      "?q=headphnes&category=Audio+%3E+Headphones&brand=Sony&opt=Colour%3ARed&opt=Size%3AM&min=10&max=99.5&stock=1&sort=PRICE_ASC&page=3&after=YWJj";
    const state = parseSearchState(url);
    expect(state).toEqual({
      query: "headphnes",
      category: "Audio > Headphones",
      brand: "Sony",
      options: [
        { name: "Colour", value: "Red" },
        { name: "Size", value: "M" },
      ],
      minPrice: "10",
      maxPrice: "99.5",
      inStock: true,
      sort: "PRICE_ASC",
      page: 3,
      after: "YWJj",
    });
    expect(parseSearchState(formatSearchState(state))).toEqual(state);
  });

  it("leaves defaults out of the URL", () => {
    expect(formatSearchState(parseSearchState(""))).toBe("");
    expect(formatSearchState(withChange(parseSearchState(""), { query: "a b&c" }))).toBe("?q=a+b%26c");
  });

  it("drops values that make no sense instead of failing", () => {
    const state = parseSearchState("?sort=DROP_TABLE&min=-5&max=1e9&page=x&after=abc&stock=yes");
    expect(state.sort).toBe("RELEVANCE");
    expect(state.minPrice).toBeNull();
    expect(state.maxPrice).toBeNull();
    expect(state.page).toBe(1);
    expect(state.after).toBeNull();
    expect(state.inStock).toBe(false);
    expect(parseSearchState("?opt=Red&opt=%3ARed&opt=Colour%3A").options).toEqual([]);
  });

  it("keeps one value per option, the last chosen", () => {
    const state = parseSearchState("?opt=Colour%3ARed&opt=colour%3ABlue&opt=Size%3AL");
    expect(state.options).toEqual([
      { name: "colour", value: "Blue" },
      { name: "Size", value: "L" },
    ]);
  });

  it("goes back to the first page when the query, a filter or the sort changes", () => {
    const paged = parseSearchState("?q=tv&page=2&after=Yw");
    const changed = withChange(paged, { brand: "LG" });
    expect(changed.page).toBe(1);
    expect(changed.after).toBeNull();
    expect(formatSearchState(changed)).toBe("?q=tv&brand=LG");
  });

  it("becomes the API's filter", () => {
    expect(toFilter(parseSearchState("?brand=Sony&stock=1"))).toEqual({
      category: null,
      brand: "Sony",
      options: null,
      minPrice: null,
      maxPrice: null,
      inStock: true,
    });
  });

  it("passes option values to the API's filter", () => {
    expect(toFilter(parseSearchState("?opt=Colour%3ARed")).options).toEqual([{ name: "Colour", value: "Red" }]);
  });
});
