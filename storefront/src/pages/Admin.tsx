// The admin area (ADMIN accounts): every order with "Ship" and "Deliver", and stock editing.
import { useState, type SubmitEvent, type ReactNode } from "react";
import { useMutation, useQuery } from "urql";

import {
  AdminStockDocument,
  DeliverOrderDocument,
  OrdersDocument,
  SetVariantStockDocument,
  ShipOrderDocument,
} from "../api/operations";
import { useSessionState } from "../auth/SessionContext";
import { Price } from "../components/Price";
import { TableHead } from "../components/TableHead";
import { Link } from "../lib/router";
import { lineName } from "../lib/variants";

export function Admin(): ReactNode {
  const { user } = useSessionState();
  if (user?.role !== "ADMIN") {
    return (
      <section>
        <h1>Admin</h1>
        <p>This area is for shop administrators.</p>
      </section>
    );
  }
  return (
    <section>
      <h1>Admin</h1>
      <AdminOrders />
      <StockEditor />
    </section>
  );
}

function AdminOrders(): ReactNode {
  const [result, reexecute] = useQuery({ query: OrdersDocument, variables: { first: 50 }, requestPolicy: "network-only" });
  const [ship, shipOrder] = useMutation(ShipOrderDocument);
  const [deliver, deliverOrder] = useMutation(DeliverOrderDocument);
  const failure =
    ship.data?.shipOrder.userErrors[0]?.message ?? deliver.data?.deliverOrder.userErrors[0]?.message ?? ship.error?.message ?? deliver.error?.message;
  const orders = result.data?.orders.nodes ?? [];
  return (
    <section aria-labelledby="admin-orders">
      <h2 id="admin-orders">Orders</h2>
      <button
        type="button"
        onClick={() => {
          reexecute({ requestPolicy: "network-only" });
        }}
      >
        Refresh orders
      </button>
      {failure !== undefined && <p role="alert">{failure}</p>}
      <table>
        <TableHead caption="All orders" columns={["Order", "Customer", "Status", "Total", "Actions"]} />
        <tbody>
          {orders.map((order) => (
            <tr key={order.id}>
              <td>
                <Link to={`/orders/${order.id}`}>{order.id}</Link>
              </td>
              <td>{order.customer.id}</td>
              <td>{order.status}</td>
              <td>
                <Price money={order.total} />
              </td>
              <td>
                {order.status === "CONFIRMED" && (
                  <button type="button" disabled={ship.fetching} onClick={() => void shipOrder({ id: order.id })}>
                    Ship
                  </button>
                )}
                {order.status === "SHIPPED" && (
                  <button type="button" disabled={deliver.fetching} onClick={() => void deliverOrder({ id: order.id })}>
                    Deliver
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function StockEditor(): ReactNode {
  const [query, setQuery] = useState("");
  const [result] = useQuery({ query: AdminStockDocument, variables: { query }, requestPolicy: "network-only" });
  return (
    <section aria-labelledby="admin-stock">
      <h2 id="admin-stock">Stock</h2>
      <label>
        Find products
        <input
          type="search"
          value={query}
          onChange={(event) => {
            setQuery(event.target.value);
          }}
        />
      </label>
      <table>
        <TableHead caption="Stock levels" columns={["Product", "Available", "Reserved", "On hand"]} />
        <tbody>
          {(result.data?.search.nodes ?? []).flatMap(({ product }) =>
            // Stock is kept per variant; a product without options is its own variant.
            product.variants.map((variant) => {
              const name = lineName(product.name, variant.title);
              return (
                <tr key={variant.id}>
                  <td>{`${name} (${variant.sku})`}</td>
                  <td>{variant.stock.available}</td>
                  <td>{variant.stock.reserved}</td>
                  <td>
                    <StockForm key={variant.stock.onHand} variantId={variant.id} name={name} onHand={variant.stock.onHand} />
                  </td>
                </tr>
              );
            }),
          )}
        </tbody>
      </table>
    </section>
  );
}

function StockForm({ variantId, name, onHand }: { variantId: string; name: string; onHand: number }): ReactNode {
  const [value, setValue] = useState(String(onHand));
  const [state, setStock] = useMutation(SetVariantStockDocument);
  const failure = state.data?.setVariantStock.userErrors[0]?.message ?? state.error?.message;
  function save(event: SubmitEvent): void {
    event.preventDefault();
    const parsed = Number.parseInt(value, 10);
    if (Number.isInteger(parsed) && parsed >= 0) void setStock({ variantId, onHand: parsed });
  }
  return (
    <form onSubmit={save} className="inline">
      <input
        type="number"
        min={0}
        aria-label={`On hand for ${name}`}
        value={value}
        onChange={(event) => {
          setValue(event.target.value);
        }}
      />
      <button type="submit" aria-label={`Save stock for ${name}`} disabled={state.fetching}>
        Save
      </button>
      {failure !== undefined && <span role="alert"> {failure}</span>}
    </form>
  );
}
