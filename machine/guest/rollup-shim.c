/*
 * rollup-shim: the rollup HTTP API that dapp.py speaks, served inside the Cartesi machine
 * over libcmt (/dev/cmio). Written for the Streamable Token project.
 *
 *   rollup-shim [PORT]     listens on 127.0.0.1:PORT (default 5004); returns once it
 *                          listens (the serving process goes on in the background), so a
 *                          script can start the DApp right after it.
 *
 * Routes (POST, JSON bodies as dapp.py sends them, one keep-alive connection at a time):
 *   /finish    {"status":"accept"|"reject"} -> 200 {"request_type":"advance_state",
 *              "data":{"metadata":{...v2...},"payload":"0x..."}} or "inspect_state"
 *   /notice    {"payload":"0x.."}                              -> 201 {"index":N}
 *   /voucher   {"destination":"0x..","value":"0x<64>"?,"payload":"0x.."} -> 201 {"index":N}
 *   /report    {"payload":"0x.."}                              -> 202
 *   /exception {"payload":"0x.."}                              -> the machine stops there
 * A malformed body or an output libcmt refuses (too large) answers 400; a failure of the
 * device answers 500.
 *
 * One inspect is the shim's own, for measuring the machine: the query "machine:meminfo"
 * is answered here, with one report (/proc/meminfo, then each process's name, VmHWM and
 * VmRSS), and never reaches the DApp.
 *
 * Why C over libcmt and not Python over the ioctls: every input crosses this loop three
 * times or more, in machine cycles; a C loop costs a few thousand instructions, and libcmt
 * is the reference for the cmio protocol (ABI encoding of EvmAdvance, outputs, the outputs
 * Merkle tree the host checks on accept).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "libcmt/io.h"
#include "libcmt/rollup.h"

#define MAX_HEAD 65536

static cmt_rollup_t rollup;

/* ---------------------------------------------------------------- growing buffers */

typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static void buf_reserve(buf_t *b, size_t extra) {
    if (b->len + extra <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        fprintf(stderr, "rollup-shim: out of memory\n");
        exit(1);
    }
    b->p = p;
    b->cap = cap;
}

static void buf_add(buf_t *b, const void *data, size_t n) {
    buf_reserve(b, n);
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_printf(buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t) n + 1);
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t) n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t) n;
}

static void buf_hex(buf_t *b, const uint8_t *data, size_t n) {
    static const char digits[] = "0123456789abcdef";
    buf_reserve(b, 2 + 2 * n);
    char *o = b->p + b->len;
    *o++ = '0';
    *o++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *o++ = digits[data[i] >> 4];
        *o++ = digits[data[i] & 15];
    }
    b->len += 2 + 2 * n;
}

/* ---------------------------------------------------------------- tiny JSON reading */

/* The string value of top-level key `key` in a flat JSON object of strings, as dapp.py
 * sends them (no escapes in the values we read: hex and status words). NULL if absent. */
static const char *json_string(const char *body, size_t len, const char *key, size_t *out_len) {
    size_t klen = strlen(key);
    const char *end = body + len;
    for (const char *p = body; p + klen + 2 <= end; p++) {
        if (*p != '"' || (size_t) (end - p) < klen + 2 || memcmp(p + 1, key, klen) != 0 || p[klen + 1] != '"') {
            continue;
        }
        const char *q = p + klen + 2;
        while (q < end && isspace((unsigned char) *q)) {
            q++;
        }
        if (q >= end || *q != ':') {
            continue;
        }
        q++;
        while (q < end && isspace((unsigned char) *q)) {
            q++;
        }
        if (q >= end || *q != '"') {
            return NULL;
        }
        q++;
        const char *v = q;
        while (q < end && *q != '"' && *q != '\\') {
            q++;
        }
        if (q >= end || *q != '"') {
            return NULL;
        }
        *out_len = (size_t) (q - v);
        return v;
    }
    return NULL;
}

static int hexval(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* "0x..." into out (allocated), its length into *n; -1 when not 0x-hex of even length */
static int parse_hex(const char *s, size_t len, uint8_t **out, size_t *n) {
    if (len < 2 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || (len % 2) != 0) {
        return -1;
    }
    size_t bytes = (len - 2) / 2;
    uint8_t *o = malloc(bytes ? bytes : 1);
    if (!o) {
        return -1;
    }
    for (size_t i = 0; i < bytes; i++) {
        int hi = hexval(s[2 + 2 * i]), lo = hexval(s[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            free(o);
            return -1;
        }
        o[i] = (uint8_t) (hi << 4 | lo);
    }
    *out = o;
    *n = bytes;
    return 0;
}

/* a field that must be 0x-hex of exactly `want` bytes, or any length when want == 0 */
static int field_hex(const char *body, size_t len, const char *key, size_t want, uint8_t **out, size_t *n) {
    size_t vlen = 0;
    const char *v = json_string(body, len, key, &vlen);
    if (!v || parse_hex(v, vlen, out, n) != 0) {
        return -1;
    }
    if (want && *n != want) {
        free(*out);
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- HTTP */

static int send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += w;
        n -= (size_t) w;
    }
    return 0;
}

static int respond(int fd, int status, const char *body, size_t body_len) {
    const char *text = status == 200 ? "OK"
        : status == 201              ? "Created"
        : status == 202              ? "Accepted"
        : status == 400              ? "Bad Request"
        : status == 404              ? "Not Found"
                                     : "Internal Server Error";
    buf_t out = {0};
    buf_printf(&out, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", status,
        text, body_len);
    buf_add(&out, body, body_len);
    int rc = send_all(fd, out.p, out.len);
    free(out.p);
    return rc;
}

static int respond_str(int fd, int status, const char *body) {
    return respond(fd, status, body, strlen(body));
}

static int respond_error(int fd, int status, const char *what, int rc) {
    char msg[256];
    snprintf(msg, sizeof msg, "{\"error\":\"%s (%s)\"}", what, rc ? strerror(-rc) : "bad body");
    return respond_str(fd, status, msg);
}

/* ---------------------------------------------------------------- routes */

static const char MEMINFO_QUERY[] = "machine:meminfo";

static void add_file(buf_t *b, const char *path, const char *const *only) {
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        bool keep = !only;
        for (const char *const *o = only; o && *o; o++) {
            keep = keep || strncmp(line, *o, strlen(*o)) == 0;
        }
        if (keep) {
            buf_add(b, line, strlen(line));
        }
    }
    fclose(f);
}

/* the machine's memory, as one report */
static int emit_meminfo(void) {
    static const char *const fields[] = {"Name:", "VmHWM:", "VmRSS:", NULL};
    buf_t b = {0};
    add_file(&b, "/proc/meminfo", NULL);
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!isdigit((unsigned char) e->d_name[0])) {
            continue;
        }
        char path[300];
        snprintf(path, sizeof path, "/proc/%s/status", e->d_name);
        buf_printf(&b, "pid %s\n", e->d_name);
        add_file(&b, path, fields);
    }
    if (d) {
        closedir(d);
    }
    cmt_abi_bytes_t bytes = {.length = b.len, .data = b.p};
    int rc = cmt_rollup_emit_report(&rollup, &bytes);
    free(b.p);
    return rc;
}

static int do_finish(int fd, const char *body, size_t len) {
    size_t vlen = 0;
    const char *v = json_string(body, len, "status", &vlen);
    bool accept;
    if (v && vlen == 6 && memcmp(v, "accept", 6) == 0) {
        accept = true;
    } else if (v && vlen == 6 && memcmp(v, "reject", 6) == 0) {
        accept = false;
    } else {
        return respond_error(fd, 400, "status must be accept or reject", 0);
    }
    int type;
again:
    if (accept) {
        cmt_rollup_finish_t finish = {.accept_previous_request = true};
        int rc = cmt_rollup_finish(&rollup, &finish);
        if (rc < 0) {
            return respond_error(fd, 500, "finish", rc);
        }
        type = finish.next_request_type;
    } else {
        /* libcmt's reject path discards the host's answer: under a reverting host this
         * yield never returns (the machine goes back to the previous accept), under a host
         * that does not revert the answer is the next request, read here. */
        struct cmt_io_yield req = {
            .dev = HTIF_DEVICE_YIELD,
            .cmd = HTIF_YIELD_CMD_MANUAL,
            .reason = HTIF_YIELD_MANUAL_REASON_RX_REJECTED,
            .data = 0,
        };
        int rc = cmt_io_yield(rollup.io, &req);
        if (rc < 0) {
            return respond_error(fd, 500, "reject", rc);
        }
        rollup.fromhost_data = req.data;
        type = req.reason;
    }
    buf_t out = {0};
    if (type == HTIF_YIELD_REASON_ADVANCE) {
        cmt_rollup_advance_t a;
        int rc = cmt_rollup_read_advance_state(&rollup, &a);
        if (rc < 0) {
            return respond_error(fd, 500, "read advance", rc);
        }
        buf_printf(&out, "{\"request_type\":\"advance_state\",\"data\":{\"metadata\":{\"chain_id\":%llu,\"app_contract\":\"",
            (unsigned long long) a.chain_id);
        buf_hex(&out, a.app_contract.data, sizeof a.app_contract.data);
        buf_printf(&out, "\",\"msg_sender\":\"");
        buf_hex(&out, a.msg_sender.data, sizeof a.msg_sender.data);
        buf_printf(&out, "\",\"block_number\":%llu,\"block_timestamp\":%llu,\"prev_randao\":\"",
            (unsigned long long) a.block_number, (unsigned long long) a.block_timestamp);
        buf_hex(&out, a.prev_randao.data, sizeof a.prev_randao.data);
        buf_printf(&out, "\",\"input_index\":%llu},\"payload\":\"", (unsigned long long) a.index);
        buf_hex(&out, a.payload.data, a.payload.length);
        buf_printf(&out, "\"}}");
    } else if (type == HTIF_YIELD_REASON_INSPECT) {
        cmt_rollup_inspect_t q;
        int rc = cmt_rollup_read_inspect_state(&rollup, &q);
        if (rc < 0) {
            return respond_error(fd, 500, "read inspect", rc);
        }
        if (q.payload.length == sizeof MEMINFO_QUERY - 1 && memcmp(q.payload.data, MEMINFO_QUERY, q.payload.length) == 0) {
            emit_meminfo();
            accept = true;
            goto again;
        }
        buf_printf(&out, "{\"request_type\":\"inspect_state\",\"data\":{\"payload\":\"");
        buf_hex(&out, q.payload.data, q.payload.length);
        buf_printf(&out, "\"}}");
    } else {
        return respond_error(fd, 500, "unknown request type", -EPROTO);
    }
    int rc = respond(fd, 200, out.p, out.len);
    free(out.p);
    return rc;
}

static int do_output(int fd, const char *path, const char *body, size_t len) {
    uint8_t *payload = NULL;
    size_t n = 0;
    if (field_hex(body, len, "payload", 0, &payload, &n) != 0) {
        return respond_error(fd, 400, "payload must be 0x-hex", 0);
    }
    cmt_abi_bytes_t bytes = {.length = n, .data = payload};
    uint64_t index = 0;
    int rc, status = 201;
    char answer[64] = "";
    if (strcmp(path, "/notice") == 0) {
        rc = cmt_rollup_emit_notice(&rollup, &bytes, &index);
    } else if (strcmp(path, "/report") == 0) {
        rc = cmt_rollup_emit_report(&rollup, &bytes);
        status = 202;
    } else if (strcmp(path, "/exception") == 0) {
        rc = cmt_rollup_emit_exception(&rollup, &bytes);
        status = 202;
    } else { /* /voucher */
        uint8_t *dest = NULL, *value = NULL;
        size_t dn = 0, vn = 0, vlen = 0;
        cmt_abi_u256_t v = {{0}};
        if (field_hex(body, len, "destination", CMT_ABI_ADDRESS_LENGTH, &dest, &dn) != 0) {
            free(payload);
            return respond_error(fd, 400, "destination must be a 0x-hex address", 0);
        }
        if (json_string(body, len, "value", &vlen)) {
            if (field_hex(body, len, "value", CMT_ABI_U256_LENGTH, &value, &vn) != 0) {
                free(payload);
                free(dest);
                return respond_error(fd, 400, "value must be 0x and 64 hex digits", 0);
            }
            memcpy(v.data, value, CMT_ABI_U256_LENGTH);
            free(value);
        }
        cmt_abi_address_t a;
        memcpy(a.data, dest, CMT_ABI_ADDRESS_LENGTH);
        free(dest);
        rc = cmt_rollup_emit_voucher(&rollup, &a, &v, &bytes, &index);
    }
    free(payload);
    if (rc < 0) {
        return respond_error(fd, rc == -ENOBUFS ? 400 : 500, path + 1, rc);
    }
    if (status == 201) {
        snprintf(answer, sizeof answer, "{\"index\":%llu}", (unsigned long long) index);
    }
    return respond_str(fd, status, answer);
}

/* reads what the peer sends into `in` (room for `want` more bytes first); -1 once it closed or erred */
static int recv_more(int fd, buf_t *in, size_t want) {
    buf_reserve(in, want);
    for (;;) {
        ssize_t r = recv(fd, in->p + in->len, in->cap - in->len, 0);
        if (r > 0) {
            in->len += (size_t) r;
            return 0;
        }
        if (!(r < 0 && errno == EINTR)) {
            return -1;
        }
    }
}

/* one connection: requests until the peer closes or errs */
static void serve(int fd) {
    buf_t in = {0};
    for (;;) {
        char *head_end = NULL;
        while (!(head_end = in.len ? memmem(in.p, in.len, "\r\n\r\n", 4) : NULL)) {
            if (in.len > MAX_HEAD) {
                goto done;
            }
            if (recv_more(fd, &in, 65536) < 0) {
                goto done;
            }
        }
        size_t head_len = (size_t) (head_end - in.p) + 4;
        /* request line */
        char method[8] = "", path[64] = "";
        if (sscanf(in.p, "%7s %63s", method, path) != 2) {
            goto done;
        }
        /* Content-Length */
        size_t body_len = 0;
        for (const char *line = strstr(in.p, "\r\n"); line && line < head_end; line = strstr(line + 2, "\r\n")) {
            if (strncasecmp(line + 2, "content-length:", 15) == 0) {
                body_len = strtoull(line + 17, NULL, 10);
            }
        }
        while (in.len < head_len + body_len) {
            if (recv_more(fd, &in, head_len + body_len - in.len) < 0) {
                goto done;
            }
        }
        const char *body = in.p + head_len;
        int rc;
        if (strcmp(method, "POST") != 0) {
            rc = respond_str(fd, 404, "{\"error\":\"POST only\"}");
        } else if (strcmp(path, "/finish") == 0) {
            rc = do_finish(fd, body, body_len);
        } else if (strcmp(path, "/notice") == 0 || strcmp(path, "/voucher") == 0 || strcmp(path, "/report") == 0 ||
            strcmp(path, "/exception") == 0) {
            rc = do_output(fd, path, body, body_len);
        } else {
            rc = respond_str(fd, 404, "{\"error\":\"no such route\"}");
        }
        if (rc != 0) {
            goto done;
        }
        /* keep what followed this request */
        size_t used = head_len + body_len;
        memmove(in.p, in.p + used, in.len - used);
        in.len -= used;
    }
done:
    free(in.p);
    close(fd);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 5004;
    signal(SIGPIPE, SIG_IGN);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t) port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *) &addr, sizeof addr) != 0 || listen(s, 4) != 0) {
        perror("rollup-shim: listen");
        return 1;
    }
    /* the parent returns once the child listens and holds /dev/cmio */
    int ready[2];
    if (pipe(ready) != 0) {
        perror("rollup-shim: pipe");
        return 1;
    }
    pid_t child = fork();
    if (child < 0) {
        perror("rollup-shim: fork");
        return 1;
    }
    if (child > 0) {
        char ok = 0;
        close(ready[1]);
        return read(ready[0], &ok, 1) == 1 && ok == 1 ? 0 : 1;
    }
    close(ready[0]);
    setsid();
    int rc = cmt_rollup_init(&rollup);
    if (rc < 0) {
        fprintf(stderr, "rollup-shim: cmt_rollup_init: %s\n", strerror(-rc));
        return 1;
    }
    char ok = 1;
    if (write(ready[1], &ok, 1) != 1) {
        return 1;
    }
    close(ready[1]);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            continue;
        }
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        serve(c);
    }
}
