// The shopper's notifications, newest first, each with a way to mark it read.
import type { ReactNode } from "react";
import { useMutation, useQuery } from "urql";

import { MarkReadDocument, NotificationsDocument } from "../api/operations";
import { useSessionState } from "../auth/SessionContext";
import { SignInFirst } from "../components/SignInFirst";
import { Link } from "../lib/router";

export function Notifications(): ReactNode {
  const { user } = useSessionState();
  const [result] = useQuery({ query: NotificationsDocument, pause: user === null, requestPolicy: "cache-and-network" });
  const [, markRead] = useMutation(MarkReadDocument);
  if (user === null) {
    return <SignInFirst title="Notifications" path="/notifications" what="notifications" />;
  }
  const nodes = result.data?.notifications.nodes;
  return (
    <section>
      <h1>Notifications</h1>
      {nodes === undefined ? (
        <p>Loading…</p>
      ) : nodes.length === 0 ? (
        <p>Nothing yet.</p>
      ) : (
        <ul className="notifications">
          {nodes.map((n) => (
            <li key={n.id} className={n.read ? "read" : "unread"}>
              <h2>
                {n.title} {!n.read && <span className="badge">New</span>}
              </h2>
              <p>{n.body}</p>
              <p className="meta">
                <time dateTime={n.createdAt}>{new Date(n.createdAt).toLocaleString()}</time>
                {n.orderId != null && (
                  <>
                    {" · "}
                    <Link to={`/orders/${n.orderId}`}>View order</Link>
                  </>
                )}
              </p>
              {!n.read && (
                <button type="button" aria-label={`Mark read: ${n.title}`} onClick={() => void markRead({ id: n.id })}>
                  Mark read
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
