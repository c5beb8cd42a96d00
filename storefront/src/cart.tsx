// The signed-in shopper's cart, shared by the header's "Cart (n)" link, the product page and
// the cart page. A line is one variant of a product (a product without options is its own
// variant, under its own id). Adding while signed out remembers the variant and sends the
// shopper to sign in; the sign-in page completes the add (see completePendingAdd).
import { createContext, use, useCallback, useMemo, type ReactNode } from "react";
import { useMutation, useQuery, type Client } from "urql";

import { AddToCartDocument, CartDocument, UpdateCartItemDocument } from "./api/operations";
import { useSessionState } from "./auth/SessionContext";
import type { CartFieldsFragment } from "./gql/graphql";
import { navigate } from "./lib/router";

export interface CartApi {
  cart: CartFieldsFragment | null;
  lineCount: number;
  /** Adds to the cart; a message when it failed (null on success). */
  add: (variantId: string, quantity: number) => Promise<string | null>;
  setQuantity: (variantId: string, quantity: number) => Promise<string | null>;
  reload: () => void;
}

const CartContext = createContext<CartApi | null>(null);

const PENDING_ADD_KEY = "emporium.pendingAdd";

interface PendingAdd {
  variantId: string;
  quantity: number;
}

export function CartProvider({ children }: { children: ReactNode }): ReactNode {
  const { user } = useSessionState();
  const [result, reexecute] = useQuery({ query: CartDocument, pause: user === null });
  const [, addToCart] = useMutation(AddToCartDocument);
  const [, updateCartItem] = useMutation(UpdateCartItemDocument);
  const cart = user === null ? null : (result.data?.cart ?? null);

  const add = useCallback(
    async (variantId: string, quantity: number): Promise<string | null> => {
      if (user === null) {
        const pending: PendingAdd = { variantId, quantity };
        sessionStorage.setItem(PENDING_ADD_KEY, JSON.stringify(pending));
        navigate(`/signin?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
        return null;
      }
      const outcome = await addToCart({ variantId, quantity });
      return outcome.error?.message ?? outcome.data?.addToCart.userErrors[0]?.message ?? null;
    },
    [user, addToCart],
  );
  const setQuantity = useCallback(
    async (variantId: string, quantity: number): Promise<string | null> => {
      const outcome = await updateCartItem({ variantId, quantity });
      return outcome.error?.message ?? outcome.data?.updateCartItem.userErrors[0]?.message ?? null;
    },
    [updateCartItem],
  );
  const reload = useCallback(() => {
    reexecute({ requestPolicy: "network-only" });
  }, [reexecute]);

  const api = useMemo<CartApi>(
    () => ({ cart, lineCount: cart?.items.length ?? 0, add, setQuantity, reload }),
    [cart, add, setQuantity, reload],
  );
  return <CartContext value={api}>{children}</CartContext>;
}

export function useCart(): CartApi {
  const cart = use(CartContext);
  if (cart === null) throw new Error("useCart outside CartProvider");
  return cart;
}

function readPendingAdd(): PendingAdd | null {
  const raw = sessionStorage.getItem(PENDING_ADD_KEY);
  if (raw === null) return null;
  try {
    const value: unknown = JSON.parse(raw);
    if (
      typeof value === "object" &&
      value !== null &&
      "variantId" in value &&
      "quantity" in value &&
      typeof value.variantId === "string" &&
      typeof value.quantity === "number"
    ) {
      return { variantId: value.variantId, quantity: value.quantity };
    }
  } catch {
    // Unreadable: dropped below.
  }
  return null;
}

/**
 * After signing in: adds what the shopper tried to add while signed out, with the new access
 * token given explicitly (the session adopts it only afterwards). A message when it failed.
 */
export async function completePendingAdd(client: Client, accessToken: string): Promise<string | null> {
  const pending = readPendingAdd();
  sessionStorage.removeItem(PENDING_ADD_KEY);
  if (pending === null) return null;
  const outcome = await client
    .mutation(AddToCartDocument, pending, { fetchOptions: { headers: { authorization: `Bearer ${accessToken}` } } })
    .toPromise();
  return outcome.error?.message ?? outcome.data?.addToCart.userErrors[0]?.message ?? null;
}
