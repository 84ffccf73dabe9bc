#ifndef CSQLITE_HARDENING_H
#define CSQLITE_HARDENING_H

#include <sqlite3.h>

/// Turns on SQLite's defenses for a connection that runs statements written by clients:
/// SQLITE_DBCONFIG_DEFENSIVE (no writable_schema tampering, no writes to shadow tables),
/// SQLITE_DBCONFIG_TRUSTED_SCHEMA off (schema objects may not call unsafe functions), and the
/// C-level switch for load_extension off. `sqlite3_db_config` is variadic, which Swift cannot
/// call, hence this wrapper. Returns SQLITE_OK or the first failing result code.
int collegedb_harden_connection(sqlite3 *db);

#endif
