/* settings.c: mpbuild.yaml (SPEC 3) and MPBUILD_PROVIDER: every key has a
 * default, unknown keys are errors. */
#include "load.h"

#include <stdlib.h>
#include <string.h>

static const char *const effort_vals[] = {"low", "medium", "high", "xhigh", "max"};

static void load_model(struct ld *L, const struct ynode *models, const char *key, struct model_choice *mc)
{
	static const char *const mkeys[] = {"model", "effort"};
	struct ynode *v = ymap_get(models, key);

	if (!v)
		return;
	if (yis_null(v)) {
		mc->model = NULL;
		mc->effort = NULL;
		return;
	}
	if (v->kind == Y_SCALAR) {
		mc->model = v->str;
		mc->effort = NULL;
		return;
	}
	if (v->kind != Y_MAP) {
		yerror(L->file, v, "models.%s must be a model id or {model: ID, effort: LEVEL}, not %s", key,
		       ykind_name(v));
		return;
	}
	ld_check_keys(L, v, "a model entry", mkeys, LEN(mkeys));
	mc->model = ld_get_str(L, v, "model", 1, "the model entry");
	mc->effort = NULL;
	if (ymap_get(v, "effort") && !yis_null(ymap_get(v, "effort")))
		mc->effort = ld_get_enum(L, v, "effort", NULL, effort_vals, LEN(effort_vals));
}

void settings_load(struct plan *p)
{
	static const char *const keys[] = {"version", "provider", "base_url", "models", "prices",
					   "answer_format", "budget_usd", "jobs", "retries", "check_timeout",
					   "max_tokens", "cache_ttl", "remote_cache", "checks", "stream"};
	static const char *const ckeys[] = {"network", "cpu_seconds", "memory_mb", "file_size_mb", "processes",
					    "open_files"};
	static const char *const mkeys[] = {"discovery", "masterplan", "low", "medium", "high", "escalate"};
	static const char *const pkeys[] = {"input", "output", "cache_write_5m", "cache_write_1h", "cache_read"};
	static const char *const providers[] = {"anthropic", "openai", "replay"};
	static const char *const formats[] = {"auto", "json_schema", "tool", "text"};
	static const char *const ttls[] = {"5m", "1h", "auto"};
	static const char *const bools[] = {"false", "true"};
	struct settings *s = &p->settings;
	struct ld L = {p, "mpbuild.yaml"};
	struct ynode *r, *m;
	struct ydoc *d;
	int missing;
	size_t i;

	s->provider = "anthropic";
	s->discovery.model = s->masterplan.model = s->high.model = "claude-sonnet-5-5";
	s->low.model = s->medium.model = "claude-haiku-5-5";
	s->answer_format = "auto";
	s->budget_usd = -1;
	s->jobs = 2;
	s->retries = 1;
	s->check_timeout = 300;
	s->max_tokens = 16000;
	s->cache_ttl = "auto";
	s->stream = 1;
	s->checks = (struct sandbox_limits){0, 600, 8192, 1024, 1024, 4096};
	d = ld_load_doc(p, "mpbuild.yaml", &missing);
	if (!d)
		return;
	p->have_settings = 1;
	if (!(r = ld_doc_root(&L, d)))
		return;
	ld_check_keys(&L, r, "mpbuild.yaml", keys, LEN(keys));
	s->provider = ld_get_enum(&L, r, "provider", "anthropic", providers, LEN(providers));
	s->base_url = ld_get_str(&L, r, "base_url", 0, "mpbuild.yaml");
	if ((m = ymap_get(r, "models")) && !yis_null(m)) {
		if (ld_want(&L, m, Y_MAP, "'models'")) {
			ld_check_keys(&L, m, "'models'", mkeys, LEN(mkeys));
			load_model(&L, m, "discovery", &s->discovery);
			load_model(&L, m, "masterplan", &s->masterplan);
			load_model(&L, m, "low", &s->low);
			load_model(&L, m, "medium", &s->medium);
			load_model(&L, m, "high", &s->high);
			load_model(&L, m, "escalate", &s->escalate);
			for (i = 2; i < 5; i++) {
				struct ynode *v = ymap_get(m, mkeys[i]);
				const struct model_choice *mc = i == 2 ? &s->low : i == 3 ? &s->medium : &s->high;

				if (v && !mc->model)
					yerror(L.file, v, "models.%s must name a model (tasks of that complexity use it)", mkeys[i]);
			}
			if (ymap_get(m, "discovery") && !s->discovery.model)
				yerror(L.file, ymap_get(m, "discovery"), "models.discovery must name a model");
			if (ymap_get(m, "masterplan") && !s->masterplan.model)
				yerror(L.file, ymap_get(m, "masterplan"), "models.masterplan must name a model");
		}
	}
	if ((m = ymap_get(r, "prices")) && !yis_null(m) && ld_want(&L, m, Y_MAP, "'prices'")) {
		s->prices = xcalloc(m->n / 2 + 1, sizeof(*s->prices));
		for (i = 0; i < m->n; i += 2) {
			struct ynode *v = m->kids[i + 1];
			struct price_entry *e = &s->prices[s->nprices];

			if (!ld_want(&L, v, Y_MAP, "a prices entry"))
				continue;
			ld_check_keys(&L, v, "a prices entry", pkeys, LEN(pkeys));
			e->model = m->kids[i]->str;
			e->input = ld_get_num(&L, v, "input", 0);
			e->output = ld_get_num(&L, v, "output", 0);
			e->cache_write_5m = ld_get_num(&L, v, "cache_write_5m", e->input * 1.25);
			e->cache_write_1h = ld_get_num(&L, v, "cache_write_1h", e->input * 2);
			e->cache_read = ld_get_num(&L, v, "cache_read", e->input * 0.1);
			s->nprices++;
		}
	}
	s->answer_format = ld_get_enum(&L, r, "answer_format", "auto", formats, LEN(formats));
	s->budget_usd = ld_get_num(&L, r, "budget_usd", -1);
	s->jobs = ld_get_int(&L, r, "jobs", 2, 1, 64);
	s->retries = ld_get_int(&L, r, "retries", 1, 0, 10);
	s->check_timeout = ld_get_int(&L, r, "check_timeout", 300, 1, 86400);
	s->max_tokens = ld_get_int(&L, r, "max_tokens", 16000, 1, 1000000);
	s->cache_ttl = ld_get_enum(&L, r, "cache_ttl", "auto", ttls, LEN(ttls));
	s->remote_cache = ld_get_str(&L, r, "remote_cache", 0, "mpbuild.yaml");
	s->stream = !strcmp(ld_get_enum(&L, r, "stream", "true", bools, LEN(bools)), "true");
	if ((m = ymap_get(r, "checks")) && !yis_null(m) && ld_want(&L, m, Y_MAP, "'checks'")) {
		struct sandbox_limits *c = &s->checks;

		ld_check_keys(&L, m, "'checks'", ckeys, LEN(ckeys));
		c->network = !strcmp(ld_get_enum(&L, m, "network", "false", bools, LEN(bools)), "true");
		c->cpu_seconds = ld_get_int(&L, m, "cpu_seconds", c->cpu_seconds, 1, 1000000);
		c->memory_mb = ld_get_int(&L, m, "memory_mb", c->memory_mb, 16, 1 << 24);
		c->file_size_mb = ld_get_int(&L, m, "file_size_mb", c->file_size_mb, 1, 1 << 24);
		c->processes = ld_get_int(&L, m, "processes", c->processes, 1, 1 << 22);
		c->open_files = ld_get_int(&L, m, "open_files", c->open_files, 16, 1 << 20);
	}
}

/* MPBUILD_PROVIDER overrides provider: (SPEC 3) */
void settings_from_env(struct plan *p)
{
	static const char *const providers[] = {"anthropic", "openai", "replay"};
	const char *env = getenv("MPBUILD_PROVIDER");
	size_t i;

	if (!env || !*env)
		return;
	for (i = 0; i < LEN(providers); i++)
		if (strcmp(env, providers[i]) == 0)
			p->settings.provider = providers[i];
	if (strcmp(p->settings.provider, env) != 0)
		yerror("MPBUILD_PROVIDER", NULL, "must be anthropic, openai or replay, not '%s'", env);
}
