// Looking texts up in an app's dictionary, in Chinese (the default) or English; shared by
// the metrics dashboard and the console, each with its own dictionary.

/**
 * The lookup functions over ``texts`` (``{zh: {key: text}, en: {...}}``): a text missing
 * from the current language falls back to the Chinese one, then to the key itself, and
 * is told to ``onMissing("en:key")`` (the console's tests collect them).
 */
export function dictionary(texts, { onMissing = () => {} } = {}) {
  const languages = Object.keys(texts);
  let current = "zh";

  return {
    languages,

    setLanguage(lang) {
      current = languages.includes(lang) ? lang : "zh";
      document.documentElement.lang = current === "zh" ? "zh-CN" : "en";
    },

    language() {
      return current;
    },

    /** The text of ``key`` with ``{name}`` placeholders filled in. */
    t(key, values = {}) {
      let text = texts[current][key];
      if (text === undefined) {
        onMissing(`${current}:${key}`);
        text = texts.zh[key] ?? key;
      }
      return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ""));
    },
  };
}
