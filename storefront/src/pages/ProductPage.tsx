// A product: its options (a radio group each, for a product sold in sizes and colours), the
// chosen variant's price and live availability (re-read every few seconds; "Out of stock"
// disables adding), description, attributes and image. A product without options is its own
// single variant.
import { useEffect, useState, type ReactNode } from "react";
import { useQuery } from "urql";

import { ProductDocument, VariantStockDocument } from "../api/operations";
import { Price } from "../components/Price";
import { ProductImage } from "../components/ProductImage";
import { useCart } from "../cart";
import type { ProductQuery } from "../gql/graphql";
import { Link } from "../lib/router";
import { initialChoice, isSold, variantFor, type Choice } from "../lib/variants";

type Product = NonNullable<ProductQuery["product"]>;

const STOCK_POLL_MS = 5_000;

export function ProductPage({ id }: { id: string }): ReactNode {
  const [result] = useQuery({ query: ProductDocument, variables: { id } });
  const product = result.data?.product;
  if (product === undefined) {
    return result.fetching ? <p>Loading…</p> : <p role="alert">This product could not be loaded.</p>;
  }
  if (product === null) {
    return (
      <section>
        <h1>Product not found</h1>
        <Link to="/">Back to the shop</Link>
      </section>
    );
  }
  return (
    <article className="product">
      <ProductImage url={product.imageUrl} alt={product.name} size={320} />
      <div>
        <p className="meta">
          <Link to={`/?category=${encodeURIComponent(product.category)}`}>{product.category}</Link>
        </p>
        <h1>{product.name}</h1>
        {product.brand != null && <p className="meta">{product.brand}</p>}
        <Purchase product={product} />
        <p>{product.description}</p>
        {product.attributes.length > 0 && (
          <table className="attributes">
            <caption>Details</caption>
            <tbody>
              {product.attributes.map((a) => (
                <tr key={a.name}>
                  <th scope="row">{a.name}</th>
                  <td>{a.value}</td>
                </tr>
              ))}
              <tr>
                <th scope="row">SKU</th>
                <td>{product.sku}</td>
              </tr>
            </tbody>
          </table>
        )}
      </div>
    </article>
  );
}

/** The option pickers, the chosen variant's price and its availability. */
function Purchase({ product }: { product: Product }): ReactNode {
  const [choice, setChoice] = useState<Choice>(() => initialChoice(product.variants));
  const variant = variantFor(product.variants, choice);
  function choose(option: string, value: string): void {
    const wanted = { ...choice, [option]: value };
    if (variantFor(product.variants, wanted) !== undefined) {
      setChoice(wanted);
      return;
    }
    // Not sold with the other choices: the first variant with this value instead.
    const other = product.variants.find((v) => v.selectedOptions.some((o) => o.name === option && o.value === value));
    if (other !== undefined) setChoice(Object.fromEntries(other.selectedOptions.map((o) => [o.name, o.value])));
  }
  return (
    <>
      <p className="big-price">
        {variant !== undefined ? (
          <>
            <Price money={variant.price} />
            {variant.compareAtPrice != null && (
              <span className="was">
                {" "}
                Was <Price money={variant.compareAtPrice} />
              </span>
            )}
          </>
        ) : (
          <Price money={product.priceRange.min} />
        )}
      </p>
      {product.options.map((option) => (
        <fieldset className="option" key={option.name}>
          <legend>{option.name}</legend>
          {option.values.map((value) => (
            <label key={value} className="choice">
              <input
                type="radio"
                name={`option-${option.name}`}
                value={value}
                checked={choice[option.name] === value}
                disabled={!product.variants.some((v) => v.selectedOptions.some((o) => o.name === option.name && o.value === value))}
                onChange={() => {
                  choose(option.name, value);
                }}
              />{" "}
              {value}
              {!isSold(product.variants, choice, option.name, value) && choice[option.name] !== value && (
                <span className="visually-hidden"> (not sold with the other choices)</span>
              )}
            </label>
          ))}
        </fieldset>
      ))}
      {variant === undefined ? (
        <p role="status">This combination is not sold.</p>
      ) : (
        <Availability key={variant.id} variantId={variant.id} initial={variant.stock.available} />
      )}
      {variant !== undefined && product.options.length > 0 && <p className="meta">SKU {variant.sku}</p>}
    </>
  );
}

function Availability({ variantId, initial }: { variantId: string; initial: number }): ReactNode {
  const [stock, reexecute] = useQuery({
    query: VariantStockDocument,
    variables: { id: variantId },
    requestPolicy: "network-only",
  });
  useEffect(() => {
    const timer = window.setInterval(() => {
      reexecute({ requestPolicy: "network-only" });
    }, STOCK_POLL_MS);
    return () => {
      window.clearInterval(timer);
    };
  }, [reexecute]);
  const available = stock.data?.variant?.stock.available ?? initial;
  const cart = useCart();
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function add(): Promise<void> {
    setBusy(true);
    setMessage(null);
    const failure = await cart.add(variantId, 1);
    setBusy(false);
    setMessage(failure ?? "Added to cart.");
  }
  return (
    <div className="buy">
      <p aria-live="polite" className={available > 0 ? "in-stock" : "out-of-stock"}>
        {available > 0 ? `In stock: ${available} available` : "Out of stock"}
      </p>
      <button type="button" className="primary" disabled={available <= 0 || busy} onClick={() => void add()}>
        Add to cart
      </button>
      {message !== null && <p role="status">{message}</p>}
    </div>
  );
}
