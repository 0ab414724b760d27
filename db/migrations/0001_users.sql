-- 0001_users: the account table every other table points at.
--
-- Plue signs users in with Sign-In with Ethereum (EIP-4361): an account is
-- identified by the wallet that signed the SIWE message. Addresses are stored
-- in lowercase hex (no EIP-55 checksum casing), so the unique constraint is
-- case-insensitive by construction; the application lowercases before
-- querying.

CREATE TABLE users (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wallet_address text        NOT NULL,
    -- Chosen after the first sign-in, hence nullable. Used in URLs, so it is
    -- restricted to a URL-safe alphabet (GitHub-style: up to 39 characters,
    -- alphanumerics and single inner hyphens).
    username       text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT users_wallet_address_key UNIQUE (wallet_address),
    CONSTRAINT users_wallet_address_format
        CHECK (wallet_address ~ '^0x[0-9a-f]{40}$'),
    CONSTRAINT users_username_format
        CHECK (username ~ '^[A-Za-z0-9](-?[A-Za-z0-9])*$' AND char_length(username) <= 39),
    CONSTRAINT users_updated_after_created
        CHECK (updated_at >= created_at)
);

-- Usernames are unique regardless of case ("Alice" and "alice" are one name).
CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

COMMENT ON TABLE users IS 'Plue accounts, one per SIWE wallet address.';
COMMENT ON COLUMN users.wallet_address IS 'Lowercase 0x-prefixed 20-byte Ethereum address.';

-- Keeps updated_at honest without relying on every caller to set it.
CREATE FUNCTION set_updated_at() RETURNS trigger
    LANGUAGE plpgsql
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_set_updated_at
    BEFORE UPDATE ON users
    FOR EACH ROW
    EXECUTE FUNCTION set_updated_at();
