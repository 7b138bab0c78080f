/**
 * The chat UI's public face: the room screen the island renders, the
 * languages, and the pieces pages need on the server. Components inside
 * depend on the RoomView contract only, never on transport code.
 * @module
 */
export { type OpenError, RoomScreen, type RoomScreenProps } from "./RoomScreen.tsx";
export {
  asLang,
  chooseLang,
  DEFAULT_LANG,
  type FirstWords,
  firstWords,
  hasLaterWords,
  type HeldWords,
  type Lang,
  LANG_NAMES,
  type LangChoice,
  LANGS,
  preferredLang,
  type RoomWords,
  STRINGS,
  type Strings,
} from "./i18n.ts";
export { type LangData, langOfPage, langOfRequest } from "./page_lang.ts";
export * as UI from "./styles.ts";
// The service worker's module is imported on its own (`service_worker.ts`): the room loads it once settled, and a
// re-export here would put it on the room's first load.
