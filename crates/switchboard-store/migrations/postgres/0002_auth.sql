-- Authentication: the last TOTP time step accepted per account, so a code cannot be
-- replayed within its validity window (RFC 6238 section 5.2).
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
