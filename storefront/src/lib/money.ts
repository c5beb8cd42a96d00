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

/** A tax rate as the API sends it ("0.0725") as a percentage ("7.25 %"), from the string. */
export function ratePercent(rate: string): string {
  if (!/^\d+(\.\d+)?$/.test(rate)) return rate;
  const [whole = "0", fraction = ""] = rate.split(".");
  const digits = `${whole}${fraction.padEnd(2, "0")}`;
  const integer = digits.slice(0, whole.length + 2).replace(/^0+(?=\d)/, "");
  const rest = digits.slice(whole.length + 2).replace(/0+$/, "");
  return `${integer}${rest === "" ? "" : `.${rest}`} %`;
}
