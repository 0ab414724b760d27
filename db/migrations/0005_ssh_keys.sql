-- 0005_ssh_keys: SSH public keys for git over SSH.
--
-- fingerprint is the OpenSSH SHA256 fingerprint ("SHA256:" + 43 unpadded
-- base64 characters), computed by the application from public_key. It is
-- unique across all users: one key authenticates exactly one account.

CREATE TABLE ssh_keys (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title       text        NOT NULL,
    public_key  text        NOT NULL,
    fingerprint text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT ssh_keys_fingerprint_key UNIQUE (fingerprint),
    CONSTRAINT ssh_keys_fingerprint_format
        CHECK (fingerprint ~ '^SHA256:[A-Za-z0-9+/]{43}$'),
    -- "<type> <base64>[ <comment>]" on a single line, as in authorized_keys.
    CONSTRAINT ssh_keys_public_key_format
        CHECK (public_key ~ '^[a-z0-9@.-]+ [A-Za-z0-9+/]+={0,2}( [^\r\n]*)?$'),
    CONSTRAINT ssh_keys_title_length
        CHECK (char_length(title) BETWEEN 1 AND 255)
);

CREATE INDEX ssh_keys_user_id_idx ON ssh_keys (user_id);

COMMENT ON TABLE ssh_keys IS 'SSH public keys; a fingerprint belongs to at most one user.';
