// One order, live. The orderStatusChanged subscription is opened first and the order is read
// only once it has answered (it starts with the current status), so no change can fall between
// reading and subscribing; every later transition arrives over the WebSocket and the order is
// then re-read for its history, payment and reason.
import { useEffect, useState, type ReactNode } from "react";
import { useMutation, useQuery, useSubscription } from "urql";

import { CancelOrderDocument, OrderDocument, OrderStatusDocument } from "../api/operations";
import { Price } from "../components/Price";
import type { OrderStatusSubscription } from "../gql/graphql";
import { Link } from "../lib/router";
import { lineName } from "../lib/variants";
import { CANCELLABLE, describeReason, mergeTimeline } from "../lib/orderTimeline";

/** If the subscription does not answer at all, the order is read anyway after this. */
const SUBSCRIPTION_GRACE_MS = 4_000;

type Live = OrderStatusSubscription["orderStatusChanged"];

export function OrderPage({ id }: { id: string }): ReactNode {
  const [live] = useSubscription<OrderStatusSubscription, Live[], { orderId: string }>(
    { query: OrderStatusDocument, variables: { orderId: id } },
    (seen = [], event) => [...seen, event.orderStatusChanged],
  );
  const [graceOver, setGraceOver] = useState(false);
  useEffect(() => {
    const timer = window.setTimeout(() => {
      setGraceOver(true);
    }, SUBSCRIPTION_GRACE_MS);
    return () => {
      window.clearTimeout(timer);
    };
  }, []);
  const events = live.data ?? [];
  const subscribed = events.length > 0 || live.error !== undefined;
  const [order, reread] = useQuery({ query: OrderDocument, variables: { id }, pause: !subscribed && !graceOver });
  const eventCount = events.length;
  useEffect(() => {
    if (eventCount > 1) reread({ requestPolicy: "network-only" });
  }, [eventCount, reread]);

  const data = order.data?.order;
  if (data === undefined) {
    if (order.error !== undefined) return <p role="alert">This order could not be loaded.</p>;
    return <p>Loading the order…</p>;
  }
  if (data === null) {
    return (
      <section>
        <h1>Order not found</h1>
        <Link to="/orders">Your orders</Link>
      </section>
    );
  }
  const timeline = mergeTimeline(data.history, events);
  const current = timeline[timeline.length - 1] ?? { status: data.status, at: data.createdAt };
  const reason = current.reason ?? data.statusReason;
  return (
    <article className="order">
      <h1>{`Order ${data.id}`}</h1>
      <p className="order-status">
        Status: <strong role="status" aria-live="polite" className={`status status-${current.status.toLowerCase()}`}>{current.status}</strong>
      </p>
      {reason != null && (current.status === "REJECTED" || current.status === "CANCELLED") && (
        <p className="reason">
          {`Reason: ${reason}. ${describeReason(reason)}`}
          {data.payment?.failureReason ? ` (${data.payment.failureReason})` : ""}
        </p>
      )}
      {live.error !== undefined && <p className="meta">Live updates are unavailable; reload for the latest status.</p>}
      {CANCELLABLE.includes(current.status) && <CancelButton id={data.id} />}
      <h2>History</h2>
      <ol className="timeline">
        {timeline.map((entry) => (
          <li key={`${entry.status}-${entry.at}`}>
            <time dateTime={entry.at}>{new Date(entry.at).toLocaleString()}</time> {entry.status}
            {entry.reason ? ` (${entry.reason})` : ""}
          </li>
        ))}
      </ol>
      <h2>Items</h2>
      <ul>
        {data.items.map((item) => (
          <li key={`${item.productName}/${item.sku}`}>
            {`${item.quantity} × ${lineName(item.productName, item.variantTitle)} `}
            <Price money={item.lineTotal} />
          </li>
        ))}
      </ul>
      <p>
        Total: <Price money={data.total} />
      </p>
      <h2>Shipping to</h2>
      <address>
        {data.shippingAddress.line1}
        <br />
        {data.shippingAddress.line2 != null && (
          <>
            {data.shippingAddress.line2}
            <br />
          </>
        )}
        {`${data.shippingAddress.postalCode} ${data.shippingAddress.city}, ${data.shippingAddress.country}`}
      </address>
    </article>
  );
}

function CancelButton({ id }: { id: string }): ReactNode {
  const [state, cancel] = useMutation(CancelOrderDocument);
  const failure = state.data?.cancelOrder.userErrors[0]?.message ?? state.error?.message;
  return (
    <p>
      <button type="button" disabled={state.fetching} onClick={() => void cancel({ id })}>
        Cancel order
      </button>
      {failure !== undefined && <span role="alert"> {failure}</span>}
    </p>
  );
}
