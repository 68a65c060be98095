/*
 * clock.h - the agent's one clock: milliseconds on the monotonic clock,
 * for timeouts and durations (never for wall-clock time).
 */
#ifndef KORCH_AGENT_CLOCK_H
#define KORCH_AGENT_CLOCK_H

/* Milliseconds since an arbitrary point; only differences mean anything. */
long long agent_now_ms(void);

#endif
