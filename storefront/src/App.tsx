// The layout (header, navigation, notices) and the routes.
import { useEffect, useRef, type ReactNode } from "react";
import { Provider, useMutation, useQuery, type Client } from "urql";

import { createApiClient } from "./api/client";
import { LogoutDocument, UnreadCountDocument } from "./api/operations";
import type { Session } from "./auth/session";
import { useSession, useSessionState } from "./auth/SessionContext";
import { CartProvider, useCart } from "./cart";
import { Link, match, navigate, useLocation } from "./lib/router";
import { ForgotPassword, ResetPassword, VerifyEmail } from "./pages/Account";
import { Admin } from "./pages/Admin";
import { SignIn, Register } from "./pages/Auth";
import { CartPage } from "./pages/CartPage";
import { Catalogue } from "./pages/Catalogue";
import { Checkout } from "./pages/Checkout";
import { Notifications } from "./pages/Notifications";
import { OrderPage } from "./pages/OrderPage";
import { Orders } from "./pages/Orders";
import { ProductPage } from "./pages/ProductPage";

// One client per signed-in user: a new sign-in starts with an empty cache, so nothing one
// shopper saw is shown to the next.
let current: { key: string | null; client: Client } | null = null;
function clientFor(session: Session, key: string | null): Client {
  if (current?.key !== key) current = { key, client: createApiClient(session) };
  return current.client;
}

export function App(): ReactNode {
  const session = useSession();
  const { user } = useSessionState();
  const client = clientFor(session, user?.id ?? null);
  return (
    <Provider value={client}>
      <CartProvider>
        <a className="skip" href="#main">
          Skip to content
        </a>
        <Header />
        <main id="main" tabIndex={-1}>
          <Notice />
          <Routes />
        </main>
      </CartProvider>
    </Provider>
  );
}

function Header(): ReactNode {
  const { user } = useSessionState();
  const { lineCount } = useCart();
  return (
    <header className="site-header">
      <Link to="/" className="brand">
        Emporium
      </Link>
      <nav aria-label="Main">
        <ul>
          <li>
            <Link to="/">Shop</Link>
          </li>
          <li>
            <Link to="/cart">{`Cart (${lineCount})`}</Link>
          </li>
          {user !== null && (
            <>
              <li>
                <Link to="/orders">Orders</Link>
              </li>
              <li>
                <NotificationsLink />
              </li>
              {user.role === "ADMIN" && (
                <li>
                  <Link to="/admin">Admin</Link>
                </li>
              )}
            </>
          )}
          <li>{user === null ? <Link to="/signin">Sign in</Link> : <SignOut name={user.name} />}</li>
        </ul>
      </nav>
    </header>
  );
}

// urql compares the context by identity: a new object on every render would be a new query.
const UNREAD_CONTEXT = { additionalTypenames: ["Notification"] };

function NotificationsLink(): ReactNode {
  const [result, reexecute] = useQuery({ query: UnreadCountDocument, context: UNREAD_CONTEXT });
  // The count follows new notifications (order updates) within half a minute.
  useEffect(() => {
    const timer = window.setInterval(() => {
      reexecute({ requestPolicy: "network-only" });
    }, 30_000);
    return () => {
      window.clearInterval(timer);
    };
  }, [reexecute]);
  const unread = result.data?.notifications.totalCount ?? 0;
  return <Link to="/notifications">{unread > 0 ? `Notifications (${unread} unread)` : "Notifications"}</Link>;
}

function SignOut({ name }: { name: string }): ReactNode {
  const session = useSession();
  const [, logout] = useMutation(LogoutDocument);
  async function signOut(): Promise<void> {
    const refreshToken = session.signOut();
    navigate("/");
    if (refreshToken !== null) await logout({ refreshToken });
  }
  return (
    <span className="who">
      <span>{name}</span>{" "}
      <button type="button" onClick={() => void signOut()}>
        Sign out
      </button>
    </span>
  );
}

function Notice(): ReactNode {
  const { notice } = useSessionState();
  if (notice === null) return null;
  return (
    <p className="notice" role="alert">
      {notice}
    </p>
  );
}

function Routes(): ReactNode {
  const { path, search } = useLocation();
  const heading = useRef<string>("");
  useEffect(() => {
    // After a navigation, focus moves to the page so screen readers announce it.
    if (heading.current !== "" && heading.current !== path) document.getElementById("main")?.focus();
    heading.current = path;
  }, [path]);
  if (path === "/") return <Catalogue search={search} />;
  const product = match("/products/:id", path);
  if (product?.id !== undefined) return <ProductPage id={product.id} />;
  if (path === "/signin") return <SignIn search={search} />;
  if (path === "/register") return <Register search={search} />;
  if (path === "/forgot-password") return <ForgotPassword />;
  if (path === "/reset-password") return <ResetPassword search={search} />;
  if (path === "/verify-email") return <VerifyEmail search={search} />;
  if (path === "/cart") return <CartPage />;
  if (path === "/checkout") return <Checkout />;
  if (path === "/orders") return <Orders />;
  const order = match("/orders/:id", path);
  if (order?.id !== undefined) return <OrderPage id={order.id} />;
  if (path === "/notifications") return <Notifications />;
  if (path === "/admin") return <Admin />;
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Back to the shop</Link>
      </p>
    </section>
  );
}
