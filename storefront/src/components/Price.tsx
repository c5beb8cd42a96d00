import type { ReactNode } from "react";

import { formatMoney, type MoneyValue } from "../lib/money";

export function Price({ money }: { money: MoneyValue }): ReactNode {
  return <span className="price">{formatMoney(money)}</span>;
}
