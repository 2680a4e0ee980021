// SPDX-License-Identifier: GPL-2.0
/*
 * vmxmon: watch vmx-lite VMs through the "vmx_lite" generic netlink
 * family (uapi/linux/vmx_lite.h, docs/netlink.md). This file: the
 * command line and the command table (vmxmon.h lists the other files).
 *
 *   vmxmon list                 VMs and their vCPUs
 *   vmxmon watch                lifecycle (and fault, stats) events, live
 *   vmxmon top                  exit rates per VM and reason
 *   vmxmon interval [MS]        get or set the stats sampling interval
 *
 * --json turns every command's output into one JSON object per line.
 *
 * Exit status:
 *   0  success
 *   1  runtime or kernel error
 *   2  usage error
 *   3  the vmx_lite netlink family is not registered (module not loaded)
 *   4  permission denied (needs CAP_NET_ADMIN, i.e. root)
 *   5  the kernel's family version differs from this vmxmon's
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vmxmon.h"

struct options opt = { .interval_ms = 1000 };

#define STR(x)	STR_(x)
#define STR_(x)	#x

static int cmd_help(void);

/*
 * The commands, in the order --help lists them. A command that does not
 * talk to the kernel (help) runs at once, whatever options and operands
 * come with it.
 */
static const struct command {
	const char *name;
	const char *args;		/* its synopsis after the name */
	const char *help;		/* lines of --help, '\n' between */
	int (*operands)(char **argv);	/* how many it took, -1; NULL: none */
	int (*run)(void);		/* the exit status */
	bool netlink;			/* opens the vmx_lite family first */
} commands[] = {
	{ "list", NULL,
	  "VMs (id, pid, uid, vCPUs, memory, slots, dirty\n"
	  "logging, exits) and each VM's vCPUs", NULL, cmd_list, true },
	{ "watch", NULL,
	  "lifecycle and fault events as they happen, one\n"
	  "line each (needs CAP_NET_ADMIN)", NULL, cmd_watch, true },
	{ "top", NULL, "exit rates per VM and reason, refreshed", NULL,
	  cmd_top, true },
	{ "interval", "[MS]",
	  "print, or set (needs CAP_NET_ADMIN), the interval\n"
	  "between the kernel's stats samples (" STR(VMXL_NL_INTERVAL_MIN) ".."
	  STR(VMXL_NL_INTERVAL_MAX) " ms)", interval_operands, cmd_interval, true },
	{ "help", NULL, "this text", NULL, cmd_help, false },
};

static void usage(FILE *f)
{
	fputs("usage: vmxmon [--json] COMMAND [OPTIONS]\n"
	      "Monitor vmx-lite VMs through the " VMXL_GENL_NAME " generic netlink family.\n"
	      "\n"
	      "Commands:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const struct command *c = &commands[i];
		const char *h = c->help, *nl;
		char synopsis[32];

		snprintf(synopsis, sizeof(synopsis), "%s%s%s", c->name,
			 c->args ? " " : "", c->args ? c->args : "");
		fprintf(f, "  %-21s ", synopsis);
		while ((nl = strchr(h, '\n'))) {
			fprintf(f, "%.*s\n%24s", (int)(nl - h), h, "");
			h = nl + 1;
		}
		fprintf(f, "%s\n", h);
	}
	fputs("\n"
	      "Options:\n"
	      "  --json                one JSON object per line (every command)\n"
	      "  --vm ID               list, watch, top: only VM ID\n"
	      "  --count N             watch: exit after N events\n"
	      "  --timeout SEC         watch: exit (status 0) after SEC seconds\n"
	      "  --stats               watch: also the periodic stats samples\n"
	      "  --interval MS         top: sample every MS ms (default 1000)\n"
	      "  --iterations N        top: exit after N samples\n"
	      "  --once                top: one sample, then exit (--iterations 1)\n"
	      "  --batch               top: plain text blocks, never clear the screen\n"
	      "                        (the default when stdout is not a terminal)\n"
	      "  -h, --help            this text\n"
	      "  -V, --version         vmxmon's version and the netlink protocol\n"
	      "                        version it speaks\n"
	      "\n"
	      "Exit status: 0 success, 1 runtime or kernel error, 2 usage error,\n"
	      "3 module not loaded (no " VMXL_GENL_NAME " family), 4 permission denied\n"
	      "(CAP_NET_ADMIN needed), 5 the kernel's protocol version differs.\n", f);
}

static int cmd_help(void)
{
	usage(stdout);
	return EXIT_OK;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int usage_error(const char *fmt, const char *arg)
{
	fputs("vmxmon: ", stderr);
	fprintf(stderr, fmt, arg);
	fputs("\nTry 'vmxmon --help'.\n", stderr);
	return EXIT_USAGE;
}

bool parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

enum {
	OPT_JSON = 0x100, OPT_VM, OPT_COUNT, OPT_TIMEOUT, OPT_STATS,
	OPT_INTERVAL, OPT_ITERATIONS, OPT_ONCE, OPT_BATCH,
};

static const struct option long_opts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "vm", required_argument, NULL, OPT_VM },
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "stats", no_argument, NULL, OPT_STATS },
	{ "interval", required_argument, NULL, OPT_INTERVAL },
	{ "iterations", required_argument, NULL, OPT_ITERATIONS },
	{ "once", no_argument, NULL, OPT_ONCE },
	{ "batch", no_argument, NULL, OPT_BATCH },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* Which command each option belongs to; NULL: every command. */
static const char *const opt_cmd[] = {
	[OPT_VM - OPT_JSON] = "list watch top",
	[OPT_COUNT - OPT_JSON] = "watch",
	[OPT_TIMEOUT - OPT_JSON] = "watch",
	[OPT_STATS - OPT_JSON] = "watch",
	[OPT_INTERVAL - OPT_JSON] = "top",
	[OPT_ITERATIONS - OPT_JSON] = "top",
	[OPT_ONCE - OPT_JSON] = "top",
	[OPT_BATCH - OPT_JSON] = "top",
};

static bool word_in(const char *word, const char *list)
{
	size_t n = strlen(word);
	const char *p = list;

	while ((p = strstr(p, word))) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

int main(int argc, char **argv)
{
	bool used[ARRAY_SIZE(opt_cmd)] = { false };
	const struct command *cmd;
	uint64_t v;
	char *end;
	size_t i;
	int c, n, ret;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hV", long_opts, NULL)) != -1) {
		if (c >= OPT_JSON)
			used[c - OPT_JSON] = true;
		switch (c) {
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("vmxmon (vmx-lite) %s, " VMXL_GENL_NAME
			       " netlink protocol version %d\n",
			       VMXL_PKG_VERSION, VMXL_GENL_VERSION);
			return EXIT_OK;
		case OPT_JSON:
			opt.json = true;
			break;
		case OPT_VM:
			if (!parse_u64(optarg, 1, UINT32_MAX, &v))
				return usage_error("--vm: not a VM id: '%s'", optarg);
			opt.vm = v;
			opt.have_vm = true;
			break;
		case OPT_COUNT:
			if (!parse_u64(optarg, 1, UINT64_MAX, &v))
				return usage_error("--count: not a positive number: '%s'",
						   optarg);
			opt.count = v;
			break;
		case OPT_TIMEOUT:
			errno = 0;
			opt.timeout = strtod(optarg, &end);
			if (errno || end == optarg || *end || !isfinite(opt.timeout) ||
			    opt.timeout <= 0 || opt.timeout > 1e9)
				return usage_error("--timeout: not a positive number of seconds: '%s'",
						   optarg);
			break;
		case OPT_STATS:
			opt.stats = true;
			break;
		case OPT_INTERVAL:
			if (!parse_u64(optarg, 1, 3600 * 1000, &v))
				return usage_error("--interval: not a number of milliseconds (1..3600000): '%s'",
						   optarg);
			opt.interval_ms = v;
			break;
		case OPT_ITERATIONS:
			if (!parse_u64(optarg, 1, UINT64_MAX, &v))
				return usage_error("--iterations: not a positive number: '%s'",
						   optarg);
			opt.iterations = v;
			break;
		case OPT_ONCE:
			opt.iterations = 1;
			break;
		case OPT_BATCH:
			opt.batch = true;
			break;
		case ':':
			return usage_error("option '%s' needs an argument",
					   argv[optind - 1]);
		default:
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return usage_error("%s", "no command given");
	cmd = find_command(argv[optind]);
	if (!cmd)
		return usage_error("unknown command '%s'", argv[optind]);
	optind++;
	if (!cmd->netlink)
		return cmd->run();
	for (i = 0; i < ARRAY_SIZE(opt_cmd); i++) {
		if (used[i] && opt_cmd[i] && !word_in(cmd->name, opt_cmd[i])) {
			fprintf(stderr, "vmxmon: --%s does not apply to %s\n",
				long_opts[i].name, cmd->name);
			return EXIT_USAGE;
		}
	}
	n = cmd->operands ? cmd->operands(argv + optind) : 0;
	if (n < 0)
		return EXIT_USAGE;
	optind += n;
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);

	ret = open_family();
	if (!ret)
		ret = cmd->run();
	if (sk)
		nl_socket_free(sk);
	return ret;
}
