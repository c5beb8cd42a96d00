// Checkout: the shipping address (field errors from userErrors), the shipping method and
// discount code with the order summary (CheckoutPricing), a test card, and one
// idempotency key per attempt: a double click or a retried request sends the same key and
// the API answers with the same order. A new key is made only when the shopper changes what
// they submit after an attempt that placed nothing.
import { useRef, useState, type SubmitEvent, type ReactNode } from "react";
import { useMutation } from "urql";

import { CheckoutDocument } from "../api/operations";
import { useSessionState } from "../auth/SessionContext";
import { useCart } from "../cart";
import { FieldError, fieldErrors, formText, type FieldErrors } from "../components/FieldError";
import { Price } from "../components/Price";
import { Link, navigate } from "../lib/router";
import { ADDRESS_FIELDS, CheckoutPricing, type AddressValue } from "./CheckoutPricing";

export const TEST_CARDS = [
  { token: "tok_visa", label: "Visa, approved" },
  { token: "tok_decline_card", label: "Card that will be declined" },
] as const;

/** The address typed into the form (trimmed; the country upper-case). */
function addressOf(form: FormData): AddressValue {
  const text = (name: string): string => formText(form, name).trim();
  const line2 = text("line2");
  return {
    line1: text("line1"),
    line2: line2 === "" ? null : line2,
    city: text("city"),
    postalCode: text("postalCode"),
    country: text("country").toUpperCase(),
  };
}

function newKey(): string {
  return crypto.randomUUID();
}

export function Checkout(): ReactNode {
  const { user } = useSessionState();
  const cart = useCart();
  const [, checkout] = useMutation(CheckoutDocument);
  const [attempt, setAttempt] = useState<{ key: string; submitted: string | null }>(() => ({ key: newKey(), submitted: null }));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  const formRef = useRef<HTMLFormElement>(null);
  if (user === null) {
    return (
      <section>
        <h1>Checkout</h1>
        <p>
          <Link to="/signin?next=/checkout">Sign in</Link> to check out.
        </p>
      </section>
    );
  }
  async function submit(event: SubmitEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    if (busy) return;
    const form = new FormData(event.currentTarget);
    const input = {
      shippingAddress: addressOf(form),
      paymentToken: formText(form, "card").trim(),
    };
    const submitted = JSON.stringify(input);
    // Same input as the last attempt: the same key (a retry). Different: a new attempt.
    const key = attempt.submitted === null || attempt.submitted === submitted ? attempt.key : newKey();
    setAttempt({ key, submitted });
    setBusy(true);
    const result = await checkout({ input: { ...input, idempotencyKey: key } });
    const order = result.data?.checkout.order;
    if (order) {
      cart.reload();
      navigate(`/orders/${order.id}`);
      return;
    }
    setBusy(false);
    setErrors(
      result.data === undefined
        ? { "": result.error?.message ?? "The order could not be placed. Please try again." }
        : fieldErrors(result.data.checkout.userErrors, [...ADDRESS_FIELDS]),
    );
  }
  const items = cart.cart?.items ?? [];
  const saved = cart.cart?.shippingAddress ?? null;
  return (
    <section className="narrow">
      <h1>Checkout</h1>
      {cart.cart !== null && (
        <p>
          {`${items.length} line${items.length === 1 ? "" : "s"}, subtotal `}
          <Price money={cart.cart.subtotal} />
        </p>
      )}
      <form ref={formRef} onSubmit={(e) => void submit(e)} noValidate>
        <FieldError errors={errors} field="" />
        {/* Remounted once the cart's saved address arrives, so its fields start from it. */}
        <fieldset key={saved === null ? "new" : "saved"}>
          <legend>Shipping address</legend>
          <TextField name="line1" label="Address line 1" autoComplete="address-line1" errors={errors} saved={saved?.line1} />
          <TextField name="line2" label="Address line 2 (optional)" autoComplete="address-line2" errors={errors} saved={saved?.line2} />
          <TextField name="city" label="City" autoComplete="address-level2" errors={errors} saved={saved?.city} />
          <TextField name="postalCode" label="Postal code" autoComplete="postal-code" errors={errors} saved={saved?.postalCode} />
          <TextField name="country" label="Country" autoComplete="country" errors={errors} hint="Two-letter code, e.g. US" saved={saved?.country} />
        </fieldset>
        {cart.cart !== null && (
          <CheckoutPricing
            cart={cart.cart}
            readAddress={() => addressOf(new FormData(formRef.current ?? undefined))}
            onAddressErrors={setErrors}
          />
        )}
        <fieldset>
          <legend>Test card</legend>
          {TEST_CARDS.map((card, i) => (
            <label key={card.token} className="check">
              <input type="radio" name="card" value={card.token} defaultChecked={i === 0} /> {card.label}
            </label>
          ))}
        </fieldset>
        <button type="submit" className="primary" disabled={busy || items.length === 0}>
          Place order
        </button>
      </form>
    </section>
  );
}

function TextField(props: {
  name: string;
  label: string;
  autoComplete: string;
  errors: FieldErrors;
  hint?: string;
  /** The cart's saved address, filled in to start with. */
  saved?: string | null;
}): ReactNode {
  const error = props.errors[props.name];
  const errorId = `${props.name}-error`;
  return (
    <div className="field">
      <label htmlFor={props.name}>{props.label}</label>
      {props.hint !== undefined && <small>{props.hint}</small>}
      <input
        id={props.name}
        name={props.name}
        autoComplete={props.autoComplete}
        defaultValue={props.saved ?? undefined}
        aria-invalid={error !== undefined}
        aria-describedby={error === undefined ? undefined : errorId}
      />
      {error !== undefined && (
        <p className="field-error" id={errorId}>
          {error}
        </p>
      )}
    </div>
  );
}
