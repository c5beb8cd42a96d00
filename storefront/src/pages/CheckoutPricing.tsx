// Checkout's pricing: the shipping methods offered for the cart's address (asked for with the
// address typed above), a discount code, and the order summary with its tax lines. Every
// amount is the API's (the cart is priced by the orders service); nothing is computed here.
import { useState, type ReactNode } from "react";
import { useMutation } from "urql";

import {
  ApplyDiscountCodeDocument,
  RemoveDiscountCodeDocument,
  SetCartShippingAddressDocument,
  SetCartShippingMethodDocument,
} from "../api/operations";
import { useCart } from "../cart";
import { FieldError, fieldErrors, type FieldErrors } from "../components/FieldError";
import { Price } from "../components/Price";
import type { CartFieldsFragment } from "../gql/graphql";
import { ratePercent } from "../lib/money";

export const ADDRESS_FIELDS = ["line1", "line2", "city", "postalCode", "country"] as const;

export interface AddressValue {
  line1: string;
  line2: string | null;
  city: string;
  postalCode: string;
  country: string;
}

/** Shipping method and discount code choices, then the order summary. */
export function CheckoutPricing(props: {
  cart: CartFieldsFragment;
  readAddress: () => AddressValue;
  onAddressErrors: (errors: FieldErrors) => void;
}): ReactNode {
  const { cart } = props;
  const { reload } = useCart();
  const [, setAddress] = useMutation(SetCartShippingAddressDocument);
  const [, setMethod] = useMutation(SetCartShippingMethodDocument);
  const [, applyCode] = useMutation(ApplyDiscountCodeDocument);
  const [, removeCode] = useMutation(RemoveDiscountCodeDocument);
  const [code, setCode] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});

  async function showMethods(): Promise<void> {
    const result = await setAddress({ address: props.readAddress() });
    const userErrors = result.data?.setCartShippingAddress.userErrors ?? [];
    props.onAddressErrors(fieldErrors(userErrors, [...ADDRESS_FIELDS]));
    setErrors(result.error === undefined ? {} : { shipping: result.error.message });
    reload();
  }
  async function chooseMethod(id: string): Promise<void> {
    const result = await setMethod({ id });
    const message = result.error?.message ?? result.data?.setCartShippingMethod.userErrors[0]?.message;
    setErrors(message === undefined ? {} : { shipping: message });
    reload();
  }
  async function apply(): Promise<void> {
    if (code.trim() === "") return;
    const result = await applyCode({ code: code.trim() });
    const message = result.error?.message ?? result.data?.applyDiscountCode.userErrors[0]?.message;
    setErrors(message === undefined ? {} : { code: message });
    if (message === undefined) setCode("");
    reload();
  }
  async function remove(applied: string): Promise<void> {
    await removeCode({ code: applied });
    reload();
  }

  const methods = cart.availableShippingMethods;
  return (
    <>
      <fieldset>
        <legend>Shipping method</legend>
        <button type="button" onClick={() => void showMethods()}>
          Show shipping options
        </button>
        <FieldError errors={errors} field="shipping" />
        {cart.shippingAddress !== null && methods.length === 0 && <p>No shipping method is needed for this address.</p>}
        {methods.map((method) => (
          <label key={method.id} className="check">
            <input
              type="radio"
              name="shippingMethod"
              value={method.id}
              checked={cart.shippingMethod?.id === method.id}
              onChange={() => void chooseMethod(method.id)}
            />{" "}
            {`${method.name}, `}
            <Price money={method.price} />
            {method.estimatedDays !== null && ` (about ${method.estimatedDays} days)`}
          </label>
        ))}
      </fieldset>
      <fieldset>
        <legend>Discount code</legend>
        <div className="field">
          <label htmlFor="discount-code">Discount code</label>
          <input
            id="discount-code"
            value={code}
            onChange={(event) => {
              setCode(event.target.value);
            }}
            aria-invalid={errors.code !== undefined}
          />
          <FieldError errors={errors} field="code" />
        </div>
        <button type="button" onClick={() => void apply()}>
          Apply code
        </button>
        {cart.discounts.length > 0 && (
          <ul aria-label="Applied discount codes">
            {cart.discounts.map((discount) => (
              <li key={discount.code}>
                {`${discount.code}: −`}
                <Price money={discount.amount} />{" "}
                <button type="button" aria-label={`Remove code ${discount.code}`} onClick={() => void remove(discount.code)}>
                  Remove
                </button>
              </li>
            ))}
          </ul>
        )}
      </fieldset>
      <OrderSummary cart={cart} />
    </>
  );
}

export function OrderSummary({ cart }: { cart: CartFieldsFragment }): ReactNode {
  return (
    <section aria-label="Order summary">
      <dl className="summary">
        <dt>Subtotal</dt>
        <dd>
          <Price money={cart.subtotal} />
        </dd>
        {cart.discounts.map((discount) => (
          <div key={discount.code}>
            <dt>{`Discount ${discount.code}`}</dt>
            <dd>
              −<Price money={discount.amount} />
            </dd>
          </div>
        ))}
        <dt>Shipping</dt>
        <dd>
          <Price money={cart.shippingTotal} />
        </dd>
        {cart.taxLines.map((line) => (
          <div key={line.name}>
            <dt>{`${line.name} ${ratePercent(line.rate)}${cart.pricesIncludeTax ? " (included)" : ""}`}</dt>
            <dd>
              <Price money={line.amount} />
            </dd>
          </div>
        ))}
        <dt>Total</dt>
        <dd>
          <Price money={cart.total} />
        </dd>
      </dl>
    </section>
  );
}
