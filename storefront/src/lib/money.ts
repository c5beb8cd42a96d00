// Money arrives as an exact decimal string and an ISO 4217 code; it is formatted from the
// string (Intl formats a numeric string exactly), never through a float.

export interface MoneyValue {
  amount: string;
  currency: string;
}

const DECIMAL = /^-?\d+(\.\d+)?$/;

/** "349.99" USD → "$349.99" (en-US); anything Intl cannot format is shown as "349.99 XYZ". */
export function formatMoney(money: MoneyValue, locale = "en-US"): string {
  if (!DECIMAL.test(money.amount)) return `${money.amount} ${money.currency}`;
  try {
    return new Intl.NumberFormat(locale, { style: "currency", currency: money.currency }).format(
      money.amount as `${number}`,
    );
  } catch {
    return `${money.amount} ${money.currency}`;
  }
}
