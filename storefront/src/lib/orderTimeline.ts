// An order's status history from two sources: the order as read, and the orderStatusChanged
// subscription (which starts with the current status and then sends every transition).
// Merged by time, so whichever arrives first, the newest known status wins and no transition
// is shown twice.
import type { OrderStatus } from "../gql/graphql";

export interface StatusEntry {
  status: OrderStatus;
  previousStatus?: OrderStatus | null;
  reason?: string | null;
  at: string;
}

export function mergeTimeline(history: readonly StatusEntry[], live: readonly StatusEntry[]): StatusEntry[] {
  const byKey = new Map<string, StatusEntry>();
  for (const entry of [...history, ...live]) {
    const key = `${entry.status}@${Date.parse(entry.at)}`;
    if (!byKey.has(key)) byKey.set(key, entry);
  }
  return [...byKey.values()].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}

export const CANCELLABLE: readonly OrderStatus[] = ["PENDING", "CONFIRMED"];

const REASONS: Record<string, string> = {
  PAYMENT_DECLINED: "The payment was declined.",
  OUT_OF_STOCK: "Some items were out of stock.",
  TIMED_OUT: "The order could not be confirmed in time.",
  CANCELLED_BY_CUSTOMER: "You cancelled this order.",
  CANCELLED_BY_ADMIN: "The shop cancelled this order.",
};

export function describeReason(reason: string): string {
  return REASONS[reason] ?? reason;
}
