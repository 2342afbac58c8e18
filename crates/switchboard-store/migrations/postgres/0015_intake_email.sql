-- Privacy intake verifies by email too: a code can go to the address the contact already had
-- (contacts.email), recorded as method 'email' with no conversation. Only the CHECK changes
-- (PostgreSQL named the inline constraint <table>_<column>_check); the personal-data
-- inventory is unchanged.
ALTER TABLE privacy_verifications DROP CONSTRAINT privacy_verifications_method_check;
ALTER TABLE privacy_verifications ADD CONSTRAINT privacy_verifications_method_check
    CHECK (method IN ('conversation', 'email', 'attested'));
