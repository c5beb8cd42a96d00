// The shopper's orders, newest first.
import type { ReactNode } from "react";
import { useQuery } from "urql";

import { OrdersDocument } from "../api/operations";
import { useSessionState } from "../auth/SessionContext";
import { Price } from "../components/Price";
import { SignInFirst } from "../components/SignInFirst";
import { TableHead } from "../components/TableHead";
import { Link } from "../lib/router";

export function Orders(): ReactNode {
  const { user } = useSessionState();
  const [result] = useQuery({ query: OrdersDocument, variables: { first: 50 }, pause: user === null });
  if (user === null) {
    return <SignInFirst title="Your orders" path="/orders" what="orders" />;
  }
  const orders = result.data?.orders;
  return (
    <section>
      <h1>Your orders</h1>
      {orders === undefined ? (
        result.error !== undefined ? <p role="alert">Your orders could not be loaded.</p> : <p>Loading…</p>
      ) : orders.nodes.length === 0 ? (
        <p>No orders yet.</p>
      ) : (
        <table>
          <TableHead caption="Orders" columns={["Order", "Placed", "Status", "Total"]} />
          <tbody>
            {orders.nodes.map((order) => (
              <tr key={order.id}>
                <td>
                  <Link to={`/orders/${order.id}`}>{order.id}</Link>
                </td>
                <td>{new Date(order.createdAt).toLocaleString()}</td>
                <td>{order.status}</td>
                <td>
                  <Price money={order.total} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
