-- A member's pending purchases are found through the member's purchases (`purchases_member`):
-- a member has few, and a partial index of its own cost every purchase with a return window
-- one more random page to write. The program's index stays: the release job walks it.
DROP INDEX purchases_pending_member;
