// The pages mailed links open: ask for a password reset, set a new password with a reset link
// (`/reset-password?token=`), and confirm an email address (`/verify-email?token=`).
import { useEffect, useRef, useState, type ReactNode, type SubmitEvent } from "react";
import { useMutation } from "urql";

import { RequestPasswordResetDocument, ResetPasswordDocument, VerifyEmailDocument } from "../api/operations";
import { useSession } from "../auth/SessionContext";
import { FieldError, fieldErrors, formText, type FieldErrors } from "../components/FieldError";
import { Link, navigate } from "../lib/router";

function tokenOf(search: string): string {
  return new URLSearchParams(search).get("token") ?? "";
}

const INVALID_LINK = "This link is invalid, expired or already used. Ask for a new one.";

export function ForgotPassword(): ReactNode {
  const [, request] = useMutation(RequestPasswordResetDocument);
  const [sent, setSent] = useState(false);
  const [error, setError] = useState<FieldErrors>({});
  async function submit(event: SubmitEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    const result = await request({ email: formText(new FormData(event.currentTarget), "email") });
    if (result.data?.requestPasswordReset.ok === true) setSent(true);
    else setError({ "": "The shop could not be reached. Please try again." });
  }
  if (sent) {
    return (
      <section className="narrow">
        <h1>Check your mail</h1>
        <p role="status">If an account has this address, a link to choose a new password is on its way. It works once, for 30 minutes.</p>
      </section>
    );
  }
  return (
    <section className="narrow">
      <h1>Reset your password</h1>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <FieldError errors={error} field="" />
        <label>
          Email
          <input name="email" type="email" autoComplete="email" required />
        </label>
        <button type="submit" className="primary">
          Send a reset link
        </button>
      </form>
    </section>
  );
}

export function ResetPassword({ search }: { search: string }): ReactNode {
  const [, reset] = useMutation(ResetPasswordDocument);
  const session = useSession();
  const [errors, setErrors] = useState<FieldErrors>({});
  const [busy, setBusy] = useState(false);
  async function submit(event: SubmitEvent<HTMLFormElement>): Promise<void> {
    event.preventDefault();
    setBusy(true);
    const result = await reset({ token: tokenOf(search), newPassword: formText(new FormData(event.currentTarget), "password") });
    setBusy(false);
    const payload = result.data?.resetPassword;
    if (payload === undefined) {
      setErrors({ "": "The shop could not be reached. Please try again." });
      return;
    }
    const { accessToken, refreshToken, user } = payload;
    if (accessToken && refreshToken && user) {
      session.signIn(accessToken, refreshToken, user);
      navigate("/");
      return;
    }
    const invalidLink = payload.userErrors.some((e) => e.code === "INVALID_TOKEN");
    setErrors(invalidLink ? { "": INVALID_LINK } : fieldErrors(payload.userErrors, ["newPassword"]));
  }
  return (
    <section className="narrow">
      <h1>Choose a new password</h1>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <FieldError errors={errors} field="" />
        <label>
          New password
          <input name="password" type="password" autoComplete="new-password" required minLength={8} />
        </label>
        <FieldError errors={errors} field="newPassword" />
        <button type="submit" className="primary" disabled={busy}>
          Set password and sign in
        </button>
      </form>
      <p>
        <Link to="/forgot-password">Ask for a new link</Link>
      </p>
    </section>
  );
}

export function VerifyEmail({ search }: { search: string }): ReactNode {
  const [, verify] = useMutation(VerifyEmailDocument);
  const [outcome, setOutcome] = useState<"checking" | "verified" | "invalid" | "unreachable">("checking");
  const started = useRef(false);
  const token = tokenOf(search);
  useEffect(() => {
    // Once: the link is single use, and a second call would report it used.
    if (started.current) return;
    started.current = true;
    void verify({ token }).then((result) => {
      const payload = result.data?.verifyEmail;
      if (payload === undefined) setOutcome("unreachable");
      else setOutcome(payload.ok ? "verified" : "invalid");
    });
  }, [token, verify]);
  const message = {
    checking: "Confirming your email address…",
    verified: "Your email address is confirmed. Thank you!",
    invalid: INVALID_LINK,
    unreachable: "The shop could not be reached. Please open the link again.",
  }[outcome];
  return (
    <section className="narrow">
      <h1>Confirm your email address</h1>
      <p role="status">{message}</p>
      <p>
        <Link to="/">Back to the shop</Link>
      </p>
    </section>
  );
}
