// slug.test.mjs: tests of slug.mjs with node:test (`node --test`).
import { test } from "node:test";
import assert from "node:assert/strict";

import { slugify, uniqueSlug } from "./slug.mjs";

test("slugify folds case, punctuation and accents", () => {
  assert.equal(slugify("Hello, World!"), "hello-world");
  assert.equal(slugify("  Crème brûlée  "), "creme-brulee");
  assert.equal(slugify("a -- b"), "a-b");
});

test("slugify of a title without letters or digits is empty", () => {
  assert.equal(slugify("!!!"), "");
  assert.equal(slugify(""), "");
});

test("slugify caps the length without a trailing hyphen", () => {
  const slug = slugify(`${"word ".repeat(30)}`);
  assert.ok(slug.length <= 60);
  assert.ok(!slug.endsWith("-"));
});

test("slugify rejects non-strings", () => {
  assert.throws(() => slugify(42), { name: "TypeError", message: /number/ });
});

test("uniqueSlug appends the first free number", () => {
  const taken = new Set(["post", "post-2"]);
  assert.equal(uniqueSlug("Post", taken), "post-3");
  assert.equal(uniqueSlug("Other", taken), "other");
  assert.equal(uniqueSlug("???", new Set()), "untitled");
});
