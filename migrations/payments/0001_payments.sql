-- One payment per order. `order.placed` brings the intent (who pays how much with which card
-- token) and `inventory.reserved` says the stock is held; they travel on different queues and
-- arrive in either order, so whichever comes first creates the row and the other fills in
-- its part. That is why the intent columns are nullable.
--
-- AWAITING: not decided yet. AUTHORIZED / DECLINED: the provider's answer. CAPTURED when the
-- order shipped, REFUNDED when an authorized order was cancelled. ABANDONED: the order was
-- closed before payment was decided; a late `inventory.reserved` must not authorize it.
CREATE TABLE payments (
    order_id            text PRIMARY KEY,
    payment_id          uuid NOT NULL UNIQUE,
    user_id             uuid,
    amount_minor        bigint CHECK (amount_minor >= 0),
    currency            text,
    -- The card token, kept only while the payment is AWAITING (cleared by every decision).
    -- Never logged, never exposed over GraphQL.
    token               text,
    stock_reserved      boolean NOT NULL DEFAULT false,
    status              text NOT NULL DEFAULT 'AWAITING'
                        CHECK (status IN ('AWAITING', 'AUTHORIZED', 'DECLINED', 'CAPTURED', 'REFUNDED', 'ABANDONED')),
    provider_reference  text,
    failure_reason      text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    -- The intent arrives whole.
    CONSTRAINT payments_intent_whole CHECK (
        (user_id IS NULL) = (amount_minor IS NULL) AND (amount_minor IS NULL) = (currency IS NULL)
    ),
    -- An AWAITING payment with an intent can be authorized: it has its token. No other has one.
    CONSTRAINT payments_token_while_awaiting CHECK (
        CASE WHEN status = 'AWAITING' THEN (token IS NULL) = (amount_minor IS NULL) ELSE token IS NULL END
    ),
    -- Only a payment with an intent was ever sent to the provider.
    CONSTRAINT payments_decided_with_intent CHECK (
        status IN ('AWAITING', 'ABANDONED') OR amount_minor IS NOT NULL
    ),
    -- What the provider authorized is captured and refunded by its reference.
    CONSTRAINT payments_authorized_with_reference CHECK (
        status NOT IN ('AUTHORIZED', 'CAPTURED', 'REFUNDED') OR provider_reference IS NOT NULL
    )
);
