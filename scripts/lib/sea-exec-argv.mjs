// The Node options baked into the single executables (pkg-sea-runner.mjs), also given by the bench to the stock Node
// it compares them with.
//
// Memory over speed: a datalogger handles a telegram a second. A 1 MiB young generation and no optimising compilers
// keep the executable within its memory budget (docs/BENCHMARK.md measured idle 52.5 and forwarding 59.1 MiB with
// these flags, against 55.9 and 80.8 without), at a CPU cost that stays far below the Python datalogger's.
// --memory-saver-mode makes V8 hand pages freed by a full collection back at once instead of pooling them: 14 MiB
// were pooled while replaying a backlog; the replay peak fell from 68-72 to 60.5 MiB and the forwarding peak by 1-3
// MiB, for about 0.1 s more CPU per 1000 telegrams at the meter's pace.
export const SEA_EXEC_ARGV = ['--max-semi-space-size=1', '--no-opt', '--no-maglev', '--memory-saver-mode'];
