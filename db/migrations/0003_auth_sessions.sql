-- 0003_auth_sessions: browser sessions created by a successful SIWE sign-in.
--
-- session_key is the opaque, high-entropy value carried by the session
-- cookie. Sessions always expire; the sweep deletes expired rows using
-- auth_sessions_expires_at_idx. Deleting a user ends all of its sessions.

CREATE TABLE auth_sessions (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_key text        NOT NULL,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,

    CONSTRAINT auth_sessions_session_key_key UNIQUE (session_key),
    -- At least 128 bits of entropy in any reasonable encoding.
    CONSTRAINT auth_sessions_session_key_length
        CHECK (char_length(session_key) BETWEEN 32 AND 256),
    CONSTRAINT auth_sessions_expires_after_created
        CHECK (expires_at > created_at)
);

CREATE INDEX auth_sessions_user_id_idx ON auth_sessions (user_id);
CREATE INDEX auth_sessions_expires_at_idx ON auth_sessions (expires_at);

COMMENT ON TABLE auth_sessions IS 'Signed-in browser sessions; removed with their user.';
