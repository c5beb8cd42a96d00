// Sign in and create an account. After either, what the shopper tried to add while signed
// out is added, and they go back where they were (`?next=`).
import { useState, type SubmitEvent, type ReactNode } from "react";
import { useClient, useMutation } from "urql";

import { LoginDocument, RegisterDocument } from "../api/operations";
import { useSession } from "../auth/SessionContext";
import { completePendingAdd } from "../cart";
import { FieldError, fieldErrors, formText, type FieldErrors } from "../components/FieldError";
import type { SessionUser } from "../auth/session";
import { Link, navigate } from "../lib/router";

/** Only same-site paths: `?next=https://elsewhere` must not become an open redirect. */
function nextPath(search: string): string {
  const next = new URLSearchParams(search).get("next") ?? "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

interface AuthPayload {
  accessToken?: string | null;
  refreshToken?: string | null;
  user?: SessionUser | null;
  userErrors: readonly { code: string; field?: readonly string[] | null; message: string }[];
}

function useFinishSignIn(search: string): (payload: AuthPayload | undefined) => Promise<FieldErrors | null> {
  const session = useSession();
  const client = useClient();
  return async (payload) => {
    if (payload === undefined) return { "": "The shop could not be reached. Please try again." };
    const { accessToken, refreshToken, user } = payload;
    if (!accessToken || !refreshToken || !user) return fieldErrors(payload.userErrors, ["name", "email", "password"]);
    const addFailure = await completePendingAdd(client, accessToken);
    session.signIn(accessToken, refreshToken, user);
    navigate(addFailure === null ? nextPath(search) : "/cart");
    return null;
  };
}

export function SignIn({ search }: { search: string }): ReactNode {
  const [, login] = useMutation(LoginDocument);
  const finish = useFinishSignIn(search);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  async function submit(event: SubmitEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    const result = await login({ input: { email: formText(form, "email"), password: formText(form, "password") } });
    setBusy(false);
    setErrors((await finish(result.data?.login)) ?? {});
  }
  return (
    <section className="narrow">
      <h1>Sign in</h1>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <FieldError errors={errors} field="" />
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required aria-invalid={errors.email !== undefined} />
        </label>
        <FieldError errors={errors} field="email" />
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" required />
        </label>
        <FieldError errors={errors} field="password" />
        <button type="submit" className="primary" disabled={busy}>
          Sign in
        </button>
      </form>
      <p>
        New here? <Link to={`/register${search}`}>Create an account</Link>
      </p>
      <p>
        <Link to="/forgot-password">Forgot your password?</Link>
      </p>
    </section>
  );
}

export function Register({ search }: { search: string }): ReactNode {
  const [, register] = useMutation(RegisterDocument);
  const finish = useFinishSignIn(search);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  async function submit(event: SubmitEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setBusy(true);
    const result = await register({
      input: { name: formText(form, "name"), email: formText(form, "email"), password: formText(form, "password") },
    });
    setBusy(false);
    setErrors((await finish(result.data?.register)) ?? {});
  }
  return (
    <section className="narrow">
      <h1>Create an account</h1>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <FieldError errors={errors} field="" />
        <label>
          Name
          <input name="name" autoComplete="name" required />
        </label>
        <FieldError errors={errors} field="name" />
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required />
        </label>
        <FieldError errors={errors} field="email" />
        <label>
          Password
          <input name="password" type="password" autoComplete="new-password" required minLength={8} />
        </label>
        <FieldError errors={errors} field="password" />
        <button type="submit" className="primary" disabled={busy}>
          Create account
        </button>
      </form>
      <p>
        Have an account? <Link to={`/signin${search}`}>Sign in instead</Link>
      </p>
    </section>
  );
}
