-- 0004_access_tokens: personal access tokens for the API and git over HTTPS.
--
-- Only the SHA-256 of a token is stored (lowercase hex); the token itself is
-- shown to the user once and never persisted. scopes is a JSON array of scope
-- strings, e.g. ["repo:read", "repo:write"]. Tokens always expire.

CREATE TABLE access_tokens (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash text        NOT NULL,
    scopes     jsonb       NOT NULL DEFAULT '[]'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,

    CONSTRAINT access_tokens_token_hash_key UNIQUE (token_hash),
    CONSTRAINT access_tokens_token_hash_format
        CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT access_tokens_scopes_is_array
        CHECK (jsonb_typeof(scopes) = 'array'),
    CONSTRAINT access_tokens_scopes_are_strings
        CHECK (jsonb_typeof(scopes) <> 'array'
               OR NOT jsonb_path_exists(scopes, 'strict $[*] ? (@.type() != "string")')),
    CONSTRAINT access_tokens_expires_after_created
        CHECK (expires_at > created_at)
);

CREATE INDEX access_tokens_user_id_idx ON access_tokens (user_id);
CREATE INDEX access_tokens_expires_at_idx ON access_tokens (expires_at);

COMMENT ON TABLE access_tokens IS 'Personal access tokens, stored as SHA-256 hashes only.';
