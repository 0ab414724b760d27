-- 0002_siwe_nonces: one-time SIWE nonces (replay protection).
--
-- The server issues a random nonce, the wallet signs a SIWE message that
-- embeds it, and sign-in consumes the nonce atomically:
--
--   UPDATE siwe_nonces SET used_at = now()
--    WHERE nonce = $1 AND used_at IS NULL AND expires_at > now()
--   RETURNING *;
--
-- Zero rows means unknown, already used or expired: reject the sign-in.
-- Nonces live at most 5 minutes; a periodic sweep deletes expired rows using
-- siwe_nonces_expires_at_idx.

CREATE TABLE siwe_nonces (
    nonce          text        PRIMARY KEY,
    -- The address the nonce was issued for, when the client announced it.
    wallet_address text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL DEFAULT now() + interval '5 minutes',
    used_at        timestamptz,

    -- EIP-4361: at least 8 alphanumeric characters.
    CONSTRAINT siwe_nonces_nonce_format
        CHECK (nonce ~ '^[A-Za-z0-9]{8,128}$'),
    CONSTRAINT siwe_nonces_wallet_address_format
        CHECK (wallet_address ~ '^0x[0-9a-f]{40}$'),
    CONSTRAINT siwe_nonces_expires_after_created
        CHECK (expires_at > created_at),
    CONSTRAINT siwe_nonces_ttl_at_most_5_minutes
        CHECK (expires_at <= created_at + interval '5 minutes'),
    -- A nonce can only be consumed while it is valid.
    CONSTRAINT siwe_nonces_used_while_valid
        CHECK (used_at IS NULL OR (used_at >= created_at AND used_at <= expires_at))
);

CREATE INDEX siwe_nonces_expires_at_idx ON siwe_nonces (expires_at);

COMMENT ON TABLE siwe_nonces IS 'One-time Sign-In with Ethereum nonces, valid for at most 5 minutes.';
