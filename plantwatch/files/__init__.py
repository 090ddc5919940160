"""Files that plantwatch reads from elsewhere or writes: safe ids and paths, table and
record readers that name bad files, atomic writes, safe unpacking, tensor-only checkpoints
(``docs/security.md``)."""
