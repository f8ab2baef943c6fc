"""Record mode: `sysfake record` writes a trace, `report` summarises it,
`suggest` turns its failures into rules. See docs/record.md.

Modules: stream (binary records from the core, the pipe drain), enrich
(process state -> trace events), trace (the JSON Lines schema), syscalls
(names and arguments via python-ptrace), recorder, analyze, report,
sysctl (known /proc/sys values), suggest, cli (`cmd_record`, `cmd_report`,
`cmd_suggest`).

Nothing is imported here: `sysfake run` with syscall rules imports
record.syscalls for the names, and must not pay for the record CLI.
"""
