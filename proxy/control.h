/* control: wicketd's control socket -- a Unix stream socket in the event
 * loop that serves wicketctl (allow, deny, list, show, stats, reload) with
 * the protocol of ctlproto.h, without ever blocking the gate. */
#ifndef WK_CONTROL_H
#define WK_CONTROL_H

struct gate;

#define CONTROL_MAX_CLIENTS 64	/* concurrent control connections */
#define CONTROL_MAX_REFUSING 256	/* refused ones waiting for their EOF */
#define CONTROL_REFUSE_LINGER_MS 1000	/* ... for at most this long */
#define CONTROL_IDLE_SECS 5	/* to send the request line */
#define CONTROL_WRITE_SECS 30	/* without write progress, then dropped */
#define CONTROL_CHUNK 65536	/* list: refill the output below this */
#define CONTROL_LOW_MARK 16384	/* list: refill when drained to this */

int control_start(struct gate *g);
void control_stop(struct gate *g);

#endif
