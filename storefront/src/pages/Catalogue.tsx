// The catalogue: search as you type (debounced; the URL holds the query, so a newer query's
// operation replaces the older one and an older answer is never shown for it), browse by
// category from the facets, filter by brand, option values (Colour, Size), price and stock,
// sort, and page through.
import { useEffect, useId, useState, type SubmitEvent, type ReactNode } from "react";
import { useQuery } from "urql";

import { SearchDocument } from "../api/operations";
import { Price } from "../components/Price";
import { ProductImage } from "../components/ProductImage";
import type { SearchQuery, SearchSort } from "../gql/graphql";
import { Highlighted } from "../lib/highlight";
import { Link, navigate } from "../lib/router";
import {
  formatSearchState,
  parseSearchState,
  SORTS,
  toFilter,
  withChange,
  withOption,
  type SearchState,
} from "../lib/searchState";

export const PAGE_SIZE = 12;
const DEBOUNCE_MS = 150;

const SORT_LABELS: Record<SearchSort, string> = {
  RELEVANCE: "Relevance",
  PRICE_ASC: "Price: low to high",
  PRICE_DESC: "Price: high to low",
  NEWEST: "Newest",
};

function go(state: SearchState, replace = false): void {
  navigate(`/${formatSearchState(state)}`, { replace });
}

export function Catalogue({ search }: { search: string }): ReactNode {
  const state = parseSearchState(search);
  const [result] = useQuery({
    query: SearchDocument,
    variables: { query: state.query, filter: toFilter(state), sort: state.sort, first: PAGE_SIZE, after: state.after },
  });
  const answered = result.data?.search;
  return (
    <div className="catalogue">
      <h1 className="visually-hidden">Shop</h1>
      <SearchBox state={state} />
      <div className="catalogue-body">
        <aside aria-label="Filters">
          <CategoryFacets state={state} facets={answered?.facets} />
          <BrandFacets state={state} facets={answered?.facets} />
          <OptionFacets state={state} facets={answered?.facets} />
          <PriceFilter key={`${state.minPrice ?? ""}-${state.maxPrice ?? ""}`} state={state} />
          <label className="check">
            <input
              type="checkbox"
              checked={state.inStock}
              onChange={(event) => {
                go(withChange(state, { inStock: event.target.checked }));
              }}
            />{" "}
            In stock only
          </label>
        </aside>
        <section aria-labelledby="results-heading" className="results">
          <div className="results-bar">
            <h2 id="results-heading" aria-live="polite">
              {answered === undefined ? (result.fetching ? "Searching…" : "No results") : `${answered.totalCount} ${answered.totalCount === 1 ? "product" : "products"}`}
            </h2>
            <SortSelect state={state} />
          </div>
          {result.error !== undefined && answered === undefined && (
            <p role="alert">The catalogue could not be loaded. Please try again.</p>
          )}
          {answered !== undefined && <Hits hits={answered.nodes} />}
          {answered !== undefined && <Pager state={state} next={answered.pageInfo} />}
        </section>
      </div>
    </div>
  );
}

function SearchBox({ state }: { state: SearchState }): ReactNode {
  const [text, setText] = useState(state.query);
  const [seen, setSeen] = useState(state.query);
  const [pushed, setPushed] = useState(state.query);
  // The URL changed from elsewhere (back button, a link): show its query.
  if (state.query !== seen) {
    setSeen(state.query);
    if (state.query !== pushed) setText(state.query);
  }
  useEffect(() => {
    if (text === state.query) return;
    const timer = window.setTimeout(() => {
      setPushed(text);
      go(withChange(state, { query: text }), true);
    }, DEBOUNCE_MS);
    return () => {
      window.clearTimeout(timer);
    };
  }, [text, state]);
  function submit(event: SubmitEvent): void {
    event.preventDefault();
    setPushed(text);
    go(withChange(state, { query: text }), true);
  }
  return (
    <form role="search" className="search" onSubmit={submit}>
      <input
        type="search"
        aria-label="Search products"
        placeholder="Search products"
        value={text}
        autoComplete="off"
        onChange={(event) => {
          setText(event.target.value);
        }}
      />
    </form>
  );
}

type Facets = NonNullable<SearchQuery["search"]>["facets"] | undefined;

function lastSegment(path: string): string {
  const parts = path.split(" > ");
  return parts[parts.length - 1] ?? path;
}

function CategoryFacets({ state, facets }: { state: SearchState; facets: Facets }): ReactNode {
  const values = facets?.find((f) => f.field === "category")?.values ?? [];
  const crumbs = state.category?.split(" > ") ?? [];
  return (
    <nav aria-labelledby="categories-heading" className="facet">
      <h2 id="categories-heading">Category</h2>
      {crumbs.length > 0 && (
        <ol className="crumbs">
          <li>
            <Link to={`/${formatSearchState(withChange(state, { category: null }))}`}>All categories</Link>
          </li>
          {crumbs.map((crumb, i) => (
            <li key={crumb}>
              <Link to={`/${formatSearchState(withChange(state, { category: crumbs.slice(0, i + 1).join(" > ") }))}`}>{crumb}</Link>
            </li>
          ))}
        </ol>
      )}
      <ul>
        {values
          .filter((v) => v.value.toLowerCase() !== state.category?.toLowerCase())
          .map((v) => (
            <li key={v.value}>
              <Link to={`/${formatSearchState(withChange(state, { category: v.value }))}`}>
                {`${lastSegment(v.value)} (${v.count})`}
              </Link>
            </li>
          ))}
      </ul>
    </nav>
  );
}

type FacetValues = NonNullable<Facets>[number]["values"];

/** A facet's values as checkboxes ("Sony (12)"); `toggle` gets the value and whether it was
 * checked. */
function CheckFacet({
  legend,
  values,
  isChosen,
  toggle,
  children,
}: {
  legend: string;
  values: FacetValues;
  isChosen: (value: string) => boolean;
  toggle: (value: string, chosen: boolean) => void;
  children?: ReactNode;
}): ReactNode {
  return (
    <fieldset className="facet">
      <legend>{legend}</legend>
      {children}
      <ul>
        {values.map((v) => {
          const chosen = isChosen(v.value);
          return (
            <li key={v.value}>
              <label className="check">
                <input
                  type="checkbox"
                  checked={chosen}
                  onChange={() => {
                    toggle(v.value, chosen);
                  }}
                />{" "}
                {`${v.value} (${v.count})`}
              </label>
            </li>
          );
        })}
      </ul>
    </fieldset>
  );
}

function BrandFacets({ state, facets }: { state: SearchState; facets: Facets }): ReactNode {
  // Rendered (empty) before the answer too, so the filters below it do not move when it comes.
  return (
    <CheckFacet
      legend="Brand"
      values={facets?.find((f) => f.field === "brand")?.values ?? []}
      isChosen={(value) => value.toLowerCase() === state.brand?.toLowerCase()}
      toggle={(value, chosen) => {
        go(withChange(state, { brand: chosen ? null : value }));
      }}
    >
      {state.brand !== null && (
        <p>
          <Link to={`/${formatSearchState(withChange(state, { brand: null }))}`}>Any brand</Link>
        </p>
      )}
    </CheckFacet>
  );
}

const OPTION_FACET = "option:";

/** One group per option of the matching products' variants (Colour, Size): a product matches
 * when one of its variants has every value chosen. */
function OptionFacets({ state, facets }: { state: SearchState; facets: Facets }): ReactNode {
  const groups = facets?.filter((f) => f.field.startsWith(OPTION_FACET)) ?? [];
  return groups.map((group) => {
    const name = group.field.slice(OPTION_FACET.length);
    const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();
    return (
      <CheckFacet
        key={group.field}
        legend={name}
        values={group.values}
        isChosen={(value) => state.options.some((o) => same(o.name, name) && same(o.value, value))}
        toggle={(value, chosen) => {
          const options = chosen
            ? state.options.filter((o) => !same(o.name, name))
            : withOption(state.options, { name, value });
          go(withChange(state, { options }));
        }}
      />
    );
  });
}

function PriceFilter({ state }: { state: SearchState }): ReactNode {
  const [min, setMin] = useState(state.minPrice ?? "");
  const [max, setMax] = useState(state.maxPrice ?? "");
  const id = useId();
  function apply(event: SubmitEvent): void {
    event.preventDefault();
    go(withChange(state, { minPrice: min.trim() === "" ? null : min.trim(), maxPrice: max.trim() === "" ? null : max.trim() }));
  }
  return (
    <form className="facet price-filter" onSubmit={apply} aria-labelledby={`${id}-price`}>
      <h2 id={`${id}-price`}>Price</h2>
      <label>
        Minimum price
        <input inputMode="decimal" pattern="\d+(\.\d{1,2})?" value={min} onChange={(e) => { setMin(e.target.value); }} />
      </label>
      <label>
        Maximum price
        <input inputMode="decimal" pattern="\d+(\.\d{1,2})?" value={max} onChange={(e) => { setMax(e.target.value); }} />
      </label>
      <button type="submit">Apply price</button>
    </form>
  );
}

function SortSelect({ state }: { state: SearchState }): ReactNode {
  return (
    <label className="sort">
      Sort by{" "}
      <select
        value={state.sort}
        onChange={(event) => {
          const sort = SORTS.find((s) => s === event.target.value) ?? "RELEVANCE";
          go(withChange(state, { sort }));
        }}
      >
        {SORTS.map((sort) => (
          <option key={sort} value={sort}>
            {SORT_LABELS[sort]}
          </option>
        ))}
      </select>
    </label>
  );
}

type Hit = NonNullable<SearchQuery["search"]>["nodes"][number];

function Hits({ hits }: { hits: readonly Hit[] }): ReactNode {
  if (hits.length === 0) return <p>No products match. Try fewer words or another category.</p>;
  return (
    <ul className="hits" aria-label="Products">
      {hits.map(({ product, highlights }) => {
        const name = highlights.find((h) => h.field === "name")?.snippet;
        const description = highlights.find((h) => h.field === "description")?.snippet;
        return (
          <li key={product.id} className="hit">
            <ProductImage url={product.imageUrl} alt="" size={96} />
            <div>
              <h3>
                <Link to={`/products/${product.id}`}>{name === undefined ? product.name : <Highlighted snippet={name} />}</Link>
              </h3>
              <p className="meta">
                {product.brand ?? ""} · {lastSegment(product.category)}
              </p>
              {description !== undefined && (
                <p className="snippet">
                  <Highlighted snippet={description} />
                </p>
              )}
              <p>
                {product.priceRange.min.amount !== product.priceRange.max.amount && "From "}
                <Price money={product.price} />{" "}
                <span className={product.stock.available > 0 ? "in-stock" : "out-of-stock"}>
                  {product.stock.available > 0 ? "In stock" : "Out of stock"}
                </span>
              </p>
            </div>
          </li>
        );
      })}
    </ul>
  );
}

function Pager({ state, next }: { state: SearchState; next: { hasNextPage: boolean; endCursor?: string | null } }): ReactNode {
  const endCursor = next.endCursor ?? null;
  if (state.page === 1 && !next.hasNextPage) return null;
  return (
    <nav aria-label="Pages" className="pager">
      {state.page > 1 && <Link to={`/${formatSearchState({ ...state, page: 1, after: null })}`}>First page</Link>}
      {state.page > 1 && (
        <button
          type="button"
          onClick={() => {
            window.history.back();
          }}
        >
          Previous page
        </button>
      )}
      <span>{`Page ${state.page}`}</span>
      {next.hasNextPage && endCursor !== null && (
        <Link to={`/${formatSearchState({ ...state, page: state.page + 1, after: endCursor })}`}>Next page</Link>
      )}
    </nav>
  );
}
