// What a catalogue page shows, kept in the URL so a link or a reload restores it:
// ?q=&category=&brand=&opt=Colour:Red&min=&max=&stock=1&sort=&page=&after= (`opt` once per
// option value chosen). Parsing never throws: a value that makes no sense is dropped.
import type { SearchFilter, SearchSort } from "../gql/graphql";

export interface SearchState {
  query: string;
  category: string | null;
  brand: string | null;
  /** Option values a variant must have (one per option name), from the option facets. */
  options: OptionValue[];
  minPrice: string | null;
  maxPrice: string | null;
  inStock: boolean;
  sort: SearchSort;
  /** 1-based, for display; the page itself is fetched from `after`. */
  page: number;
  /** The opaque cursor the page starts after (null on the first page). */
  after: string | null;
}

export interface OptionValue {
  name: string;
  value: string;
}

/** The most option values a filter takes (the API's limit). */
export const MAX_OPTION_FILTERS = 4;

function parseOption(raw: string): OptionValue | null {
  const at = raw.indexOf(":");
  if (at <= 0) return null;
  const name = raw.slice(0, at).trim();
  const value = raw.slice(at + 1).trim();
  return name === "" || value === "" ? null : { name, value };
}

/** One value per option name: choosing another value of an option replaces the first. */
export function withOption(options: OptionValue[], chosen: OptionValue): OptionValue[] {
  const others = options.filter((o) => o.name.toLowerCase() !== chosen.name.toLowerCase());
  return [...others, chosen].slice(-MAX_OPTION_FILTERS);
}

export const SORTS: readonly SearchSort[] = ["RELEVANCE", "PRICE_ASC", "PRICE_DESC", "NEWEST"];

const PRICE = /^\d+(\.\d{1,2})?$/;

function nonEmpty(value: string | null): string | null {
  const trimmed = value?.trim() ?? "";
  return trimmed === "" ? null : trimmed;
}

function price(value: string | null): string | null {
  const trimmed = nonEmpty(value);
  return trimmed !== null && PRICE.test(trimmed) ? trimmed : null;
}

export function parseSearchState(search: string): SearchState {
  const params = new URLSearchParams(search);
  const sort = params.get("sort");
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  const after = nonEmpty(params.get("after"));
  const hasCursor = after !== null && Number.isFinite(page) && page > 1;
  return {
    query: params.get("q") ?? "",
    category: nonEmpty(params.get("category")),
    brand: nonEmpty(params.get("brand")),
    options: params
      .getAll("opt")
      .map(parseOption)
      .filter((o): o is OptionValue => o !== null)
      .reduce<OptionValue[]>((chosen, o) => withOption(chosen, o), []),
    minPrice: price(params.get("min")),
    maxPrice: price(params.get("max")),
    inStock: params.get("stock") === "1",
    sort: SORTS.find((s) => s === sort) ?? "RELEVANCE",
    page: hasCursor ? page : 1,
    after: hasCursor ? after : null,
  };
}

/** The query string for a state, without defaults (so URLs stay short), with its leading "?". */
export function formatSearchState(state: SearchState): string {
  const params = new URLSearchParams();
  if (state.query !== "") params.set("q", state.query);
  if (state.category !== null) params.set("category", state.category);
  if (state.brand !== null) params.set("brand", state.brand);
  for (const option of state.options) params.append("opt", `${option.name}:${option.value}`);
  if (state.minPrice !== null) params.set("min", state.minPrice);
  if (state.maxPrice !== null) params.set("max", state.maxPrice);
  if (state.inStock) params.set("stock", "1");
  if (state.sort !== "RELEVANCE") params.set("sort", state.sort);
  if (state.page > 1 && state.after !== null) {
    params.set("page", String(state.page));
    params.set("after", state.after);
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

/** A change of query, filter or sort starts again at the first page. */
export function withChange(state: SearchState, change: Partial<Omit<SearchState, "page" | "after">>): SearchState {
  return { ...state, ...change, page: 1, after: null };
}

export function toFilter(state: SearchState): SearchFilter {
  return {
    category: state.category,
    brand: state.brand,
    options: state.options.length > 0 ? state.options.map((o) => ({ name: o.name, value: o.value })) : null,
    minPrice: state.minPrice,
    maxPrice: state.maxPrice,
    inStock: state.inStock ? true : null,
  };
}
