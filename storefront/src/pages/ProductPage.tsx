// A product: price, description, attributes, image and live availability (re-read every few
// seconds; "Out of stock" disables adding).
import { useEffect, useState, type ReactNode } from "react";
import { useQuery } from "urql";

import { ProductDocument, StockDocument } from "../api/operations";
import { Price } from "../components/Price";
import { ProductImage } from "../components/ProductImage";
import { useCart } from "../cart";
import { Link } from "../lib/router";

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
        <p className="big-price">
          <Price money={product.price} />
        </p>
        <Availability id={product.id} initial={product.stock.available} />
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

function Availability({ id, initial }: { id: string; initial: number }): ReactNode {
  const [stock, reexecute] = useQuery({ query: StockDocument, variables: { id }, requestPolicy: "network-only" });
  useEffect(() => {
    const timer = window.setInterval(() => {
      reexecute({ requestPolicy: "network-only" });
    }, STOCK_POLL_MS);
    return () => {
      window.clearInterval(timer);
    };
  }, [reexecute]);
  const available = stock.data?.product?.stock.available ?? initial;
  const cart = useCart();
  const [message, setMessage] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  async function add(): Promise<void> {
    setBusy(true);
    setMessage(null);
    const failure = await cart.add(id, 1);
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
