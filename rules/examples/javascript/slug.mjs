// slug.mjs: URL slugs from titles ("Hello, World!" -> "hello-world"),
// unique within a set of slugs already taken.

const MAX_LENGTH = 60;

/**
 * The slug of a title: lower case ASCII letters and digits joined by single
 * hyphens, accents removed, at most 60 characters, never ending in a hyphen.
 * @param {string} title
 * @returns {string} the slug, "" when the title has no letter or digit
 * @throws {TypeError} when title is not a string
 */
export function slugify(title) {
  if (typeof title !== "string") {
    throw new TypeError(`title must be a string, not ${typeof title}`);
  }
  return title
    .normalize("NFKD")
    .replace(/[\u0300-\u036f]/g, "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, MAX_LENGTH)
    .replace(/-+$/, "");
}

/**
 * A slug for title that is not in taken: the plain slug, else the slug with
 * "-2", "-3", ... appended.  The caller adds the result to taken.
 * @param {string} title
 * @param {ReadonlySet<string>} taken
 * @returns {string}
 */
export function uniqueSlug(title, taken) {
  const base = slugify(title) || "untitled";
  if (!taken.has(base)) {
    return base;
  }
  for (let n = 2; ; n += 1) {
    const candidate = `${base}-${n}`;
    if (!taken.has(candidate)) {
      return candidate;
    }
  }
}
