/* fuzz_control.c - control socket requests: the input is what a client
 * sends, split into lines as the socket's reader splits it (at '\n',
 * at most CONTROL_MAX_REQUEST bytes a line, the last one without its
 * newline); each line goes through control_request_parse(), the function
 * the socket serves every line with, and its answer is made as the socket
 * makes it (an error's message through json_text_new()). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "conf.h"
#include "control.h"
#include "fuzz.h"
#include "parse.h"

#define CHECK(cond)                                                                      \
        do {                                                                             \
                if (!(cond)) {                                                           \
                        fprintf(stderr, "fuzz: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
                        abort();                                                         \
                }                                                                        \
        } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
        fuzz_log_init();
        return 0;
}

static void one_line(const char *line, size_t len)
{
        struct control_request req;
        char *error = NULL;
        int r = control_request_parse(line, len, &req, &error);

        if (r < 0) {
                struct json_object *o = json_object_new_object();
                const char *text;

                CHECK(error && *error);
                json_object_object_add(o, "ok", json_object_new_boolean(false));
                json_object_object_add(o, "error", json_text_new(error));
                text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                CHECK(utf8_is_valid(text, strlen(text)));
                CHECK(!strchr(text, '\n'));
                json_object_put(o);
                free(error);
                return;
        }
        CHECK(!error);
        if (r == 0)
                return;
        switch (req.cmd) {
        case CONTROL_CMD_START:
        case CONTROL_CMD_STOP:
        case CONTROL_CMD_RESTART:
                CHECK(name_is_valid(req.name));
                break;
        case CONTROL_CMD_SCALE:
                CHECK(name_is_valid(req.name));
                CHECK(req.count >= 1 && req.count <= CONF_MAX_INSTANCES);
                break;
        case CONTROL_CMD_LOGS:
                for (size_t i = 0; i < req.n_names; i++)
                        CHECK(name_is_valid(req.names[i]));
                break;
        default:
                break;
        }
        control_request_done(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *p = (const char *)data;

        while (size > 0) {
                const char *nl = memchr(p, '\n', MIN(size, (size_t)CONTROL_MAX_REQUEST + 1));
                size_t len;

                if (!nl && size > CONTROL_MAX_REQUEST)
                        return 0; /* "request too large": the connection is closed */
                len = nl ? (size_t)(nl - p) : size;
                one_line(p, len);
                len += nl != NULL;
                p += len;
                size -= len;
        }
        return 0;
}
