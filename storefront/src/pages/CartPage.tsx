// The cart: quantities, removal, subtotal, and the way to checkout.
import { useState, type ReactNode } from "react";

import { useSessionState } from "../auth/SessionContext";
import { useCart } from "../cart";
import { Price } from "../components/Price";
import { SignInFirst } from "../components/SignInFirst";
import { TableHead } from "../components/TableHead";
import { Link } from "../lib/router";
import { lineName } from "../lib/variants";

export function CartPage(): ReactNode {
  const { user } = useSessionState();
  const { cart, setQuantity } = useCart();
  const [message, setMessage] = useState<string | null>(null);
  if (user === null) {
    return <SignInFirst title="Your cart" path="/cart" what="cart" />;
  }
  if (cart === null) return <p>Loading your cart…</p>;
  async function change(variantId: string, quantity: number): Promise<void> {
    setMessage(await setQuantity(variantId, quantity));
  }
  return (
    <section>
      <h1>Your cart</h1>
      {message !== null && <p role="alert">{message}</p>}
      {cart.items.length === 0 ? (
        <p>
          Your cart is empty. <Link to="/">Find something you like.</Link>
        </p>
      ) : (
        <>
          <table className="cart">
            <TableHead caption="Cart lines" columns={["Product", "Price", "Quantity", "Total", { hidden: "Remove" }]} />
            <tbody>
              {cart.items.map((item) => {
                const name = lineName(item.product.name, item.variant.title);
                return (
                <tr key={item.variant.id}>
                  <td>
                    <Link to={`/products/${item.product.id}`}>{name}</Link>
                  </td>
                  <td>
                    <Price money={item.variant.price} />
                  </td>
                  <td>
                    <input
                      type="number"
                      min={1}
                      max={99}
                      aria-label={`Quantity of ${name}`}
                      defaultValue={item.quantity}
                      key={item.quantity}
                      onBlur={(event) => {
                        const quantity = Number.parseInt(event.target.value, 10);
                        if (Number.isInteger(quantity) && quantity > 0 && quantity !== item.quantity) {
                          void change(item.variant.id, quantity);
                        }
                      }}
                      onKeyDown={(event) => {
                        if (event.key === "Enter") event.currentTarget.blur();
                      }}
                    />
                  </td>
                  <td>
                    <Price money={item.lineTotal} />
                  </td>
                  <td>
                    <button type="button" aria-label={`Remove ${name}`} onClick={() => void change(item.variant.id, 0)}>
                      Remove
                    </button>
                  </td>
                </tr>
                );
              })}
            </tbody>
          </table>
          <p className="subtotal">
            Subtotal: <Price money={cart.subtotal} />
          </p>
          <p>
            <Link to="/checkout" className="button primary">
              Checkout
            </Link>
          </p>
        </>
      )}
    </section>
  );
}
