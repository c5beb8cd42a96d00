// What a page that needs a signed-in shopper shows to anyone else: its heading and a way to
// sign in that comes back to the page.
import type { ReactNode } from "react";

import { Link } from "../lib/router";

export function SignInFirst({ title, path, what }: { title: string; path: string; what: string }): ReactNode {
  return (
    <section>
      <h1>{title}</h1>
      <p>
        <Link to={`/signin?next=${path}`}>Sign in</Link> to see your {what}.
      </p>
    </section>
  );
}
