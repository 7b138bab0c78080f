/**
 * The UI's words in English and Russian, and how a page picks a language:
 * `?lang=` forces one, otherwise the browser's preference decides
 * (Accept-Language on the server, navigator.languages in the browser).
 * @module
 */

/** A language the UI speaks. */
export type Lang = "en" | "ru";

/** Every language, in the order the switcher offers them. */
export const LANGS: readonly Lang[] = ["en", "ru"];

/** The language when nothing else decides. */
export const DEFAULT_LANG: Lang = "en";

const EN = {
  appName: "Parley",
  tagline: "Private chat that keeps working on bad mobile networks.",
  landingLead:
    "Start a chat, send the link, and talk. Messages go straight between phones when they can, are end-to-end encrypted, and are never lost on a bad connection.",
  landingHowTo: "Joining is opening the invite link. No accounts, no app to install.",
  newChat: "New chat",
  chatRoom: "Chat room",
  opening: "Opening the chat…",
  noScript: "Parley needs JavaScript to encrypt and send messages.",
  messages: "Messages",
  noMessages: "No messages yet. Say hello.",
  message: "Message",
  messagePlaceholder: "Write a message",
  send: "Send",
  sendFailed: "The message could not be saved on this device.",
  newMessages: "New messages",
  showEarlier: "Show earlier messages",
  unreadable: "This message cannot be shown (it is damaged or was not sent by its author).",
  failed: "Not sent: the server refused it",
  failedTooBig: "Not sent: too large",
  newMessage: "New message",
  notifications: "Notifications",
  notifyOff: "No notifications",
  notifySender: "Notify: sender",
  notifyText: "Notify: sender + text",
  you: "You",
  guest: "Guest",
  sending: "Sending",
  sent: "Sent",
  delivered: "Delivered",
  connection: "Connection",
  connecting: "Connecting",
  connected: "Connected",
  reconnecting: "Reconnecting",
  offline: "Offline",
  refused: "Not admitted",
  nextTry: "next try in {s} s",
  arrivedAt: "arrived {time}",
  retryNow: "Retry now",
  queuedHint: "You can keep writing: messages are sent when the connection returns.",
  people: "People here",
  nobodyYet: "Nobody else is here yet. Send them the invite link.",
  nobodyNow: "Nobody else is here now.",
  online: "online",
  away: "away",
  p2p: "P2P",
  p2pTurn: "P2P via TURN",
  relay: "Relay",
  typingOne: "{name} is typing…",
  typingMany: "{names} are typing…",
  yourName: "Your name",
  editName: "Change your name",
  save: "Save",
  invite: "Invite",
  inviteLink: "Invite link",
  inviteHint: "Anyone with this link can read and write in this chat. The key after # never leaves the browser.",
  copyLink: "Copy link",
  linkCopied: "Link copied",
  share: "Share",
  qrCode: "QR code of the invite link",
  diagnostics: "Diagnostics",
  copyReport: "Copy report",
  reportCopied: "Report copied",
  copyFailed: "Copying is not allowed here; select the text instead.",
  counters: "Counters",
  countSent: "sent",
  countDelivered: "delivered",
  countResent: "re-sent",
  countRejected: "rejected",
  countDuplicates: "duplicates",
  peerLinks: "Peer links",
  noPeerLinks: "No peer links yet.",
  colPeer: "Peer",
  colPath: "Path",
  colLink: "Link",
  colIce: "ICE",
  colCandidates: "Candidates",
  colRtt: "RTT",
  events: "Events",
  noEvents: "No events yet.",
  close: "Close",
  language: "Language",
  errorMissingKey: "This link has no key after #. Ask for the whole invite link.",
  errorBadKey: "The key in this link is damaged. Ask for the invite link again.",
  errorStorage: "This browser cannot keep the chat on the device (private mode?).",
  errorOther: "The chat could not be opened: {error}",
  newChatInstead: "Start a new chat",
  notFound: "Page not found",
  notFoundText: "This link does not lead to a chat. Check that it was copied whole.",
  locale: "en",
  charCount: "{count} of {max} characters",
  messageTooLong: "Too long to send: {count} of {max} characters. Shorten the message.",
  sessionReplaced: "This chat was opened again in another tab with this tab's session; this tab rejoined on its own.",
  roomFull: "This chat is full. Parley keeps trying and joins as soon as a place is free.",
  storageMemory:
    "This device cannot save the chat right now (its storage is full or unavailable). The chat goes on, but new messages are kept only in this tab until saving works again.",
  leave: "Leave",
  recentChats: "Chats on this device",
  chatFallbackName: "Chat {id}",
  lastMessageNone: "No messages yet",
  lastMessageOwn: "You: {text}",
  unreadCount: "{count} unread",
  renameChat: "Rename",
  chatNameLabel: "Name of this chat (only on this device)",
  saveName: "Save",
  forgetChat: "Forget",
  forgetConfirm:
    "Forget this chat? Its messages, including unsent ones, are deleted from this device, and if you open its link again you join as a new person.",
};

/** The strings of one language. */
export type Strings = typeof EN;

const RU: Strings = {
  appName: "Parley",
  tagline: "Личный чат, который работает даже при плохой мобильной связи.",
  landingLead:
    "Создайте чат, отправьте ссылку и общайтесь. Сообщения идут напрямую между телефонами, когда это возможно, зашифрованы сквозным шифрованием и не теряются при плохой связи.",
  landingHowTo: "Чтобы присоединиться, достаточно открыть ссылку-приглашение. Без аккаунтов и установки.",
  newChat: "Новый чат",
  chatRoom: "Чат",
  opening: "Открываем чат…",
  noScript: "Parley нужен JavaScript, чтобы шифровать и отправлять сообщения.",
  messages: "Сообщения",
  noMessages: "Сообщений пока нет. Поздоровайтесь.",
  message: "Сообщение",
  messagePlaceholder: "Сообщение",
  send: "Отправить",
  sendFailed: "Не удалось сохранить сообщение на этом устройстве.",
  newMessages: "Новые сообщения",
  showEarlier: "Показать более ранние сообщения",
  unreadable: "Это сообщение нельзя показать (оно повреждено или отправлено не его автором).",
  failed: "Не отправлено: сервер отказал",
  failedTooBig: "Не отправлено: слишком большое",
  newMessage: "Новое сообщение",
  notifications: "Уведомления",
  notifyOff: "Без уведомлений",
  notifySender: "Уведомлять: имя",
  notifyText: "Уведомлять: имя + текст",
  you: "Вы",
  guest: "Гость",
  sending: "Отправляется",
  sent: "Отправлено",
  delivered: "Доставлено",
  connection: "Соединение",
  connecting: "Подключение",
  connected: "Подключено",
  reconnecting: "Переподключение",
  offline: "Не в сети",
  refused: "Доступ не разрешён",
  nextTry: "следующая попытка через {s} с",
  arrivedAt: "пришло в {time}",
  retryNow: "Повторить сейчас",
  queuedHint: "Можно продолжать писать: сообщения уйдут, когда связь вернётся.",
  people: "Участники",
  nobodyYet: "Здесь пока никого нет. Отправьте ссылку-приглашение.",
  nobodyNow: "Сейчас здесь больше никого нет.",
  online: "в сети",
  away: "нет на месте",
  p2p: "P2P",
  p2pTurn: "P2P через TURN",
  relay: "Через сервер",
  typingOne: "{name} печатает…",
  typingMany: "{names} печатают…",
  yourName: "Ваше имя",
  editName: "Изменить имя",
  save: "Сохранить",
  invite: "Пригласить",
  inviteLink: "Ссылка-приглашение",
  inviteHint: "Любой, у кого есть эта ссылка, может читать и писать в чат. Ключ после # не покидает браузер.",
  copyLink: "Скопировать ссылку",
  linkCopied: "Ссылка скопирована",
  share: "Поделиться",
  qrCode: "QR-код ссылки-приглашения",
  diagnostics: "Диагностика",
  copyReport: "Скопировать отчёт",
  reportCopied: "Отчёт скопирован",
  copyFailed: "Копирование здесь запрещено; выделите текст вручную.",
  counters: "Счётчики",
  countSent: "отправлено",
  countDelivered: "доставлено",
  countResent: "отправлено повторно",
  countRejected: "отклонено",
  countDuplicates: "дубликаты",
  peerLinks: "Соединения с участниками",
  noPeerLinks: "Соединений пока нет.",
  colPeer: "Участник",
  colPath: "Путь",
  colLink: "Канал",
  colIce: "ICE",
  colCandidates: "Кандидаты",
  colRtt: "RTT",
  events: "События",
  noEvents: "Событий пока нет.",
  close: "Закрыть",
  language: "Язык",
  errorMissingKey: "В ссылке нет ключа после #. Попросите полную ссылку-приглашение.",
  errorBadKey: "Ключ в ссылке повреждён. Попросите ссылку-приглашение ещё раз.",
  errorStorage: "Этот браузер не может хранить чат на устройстве (приватный режим?).",
  errorOther: "Не удалось открыть чат: {error}",
  newChatInstead: "Создать новый чат",
  notFound: "Страница не найдена",
  notFoundText: "Эта ссылка не ведёт в чат. Проверьте, что она скопирована целиком.",
  locale: "ru",
  charCount: "{count} из {max} знаков",
  messageTooLong: "Слишком длинное сообщение: {count} из {max} знаков. Сократите его, чтобы отправить.",
  sessionReplaced:
    "Этот чат открыли ещё раз в другой вкладке с сессией этой вкладки; эта вкладка подключилась заново сама.",
  roomFull: "В чате нет свободных мест. Parley пробует снова и подключится, как только место освободится.",
  storageMemory:
    "Это устройство сейчас не может сохранить чат (память переполнена или недоступна). Чат работает, но новые сообщения хранятся только в этой вкладке, пока сохранение снова не заработает.",
  leave: "Выйти",
  recentChats: "Чаты на этом устройстве",
  chatFallbackName: "Чат {id}",
  lastMessageNone: "Сообщений пока нет",
  lastMessageOwn: "Вы: {text}",
  unreadCount: "непрочитанных: {count}",
  renameChat: "Переименовать",
  chatNameLabel: "Название чата (только на этом устройстве)",
  saveName: "Сохранить",
  forgetChat: "Забыть",
  forgetConfirm:
    "Забыть этот чат? Его сообщения, в том числе неотправленные, удалятся с этого устройства, а если снова открыть его ссылку, вы войдёте как новый участник.",
};

/** The strings of each language. */
export const STRINGS: Record<Lang, Strings> = { en: EN, ru: RU };

/** Words of other pages (the landing, the 404) and of the server's markup only: the room's island never shows them. */
const NOT_IN_ROOM = [
  "tagline",
  "landingLead",
  "landingHowTo",
  "newChat",
  "noScript",
  "notFound",
  "notFoundText",
  "recentChats",
  "chatFallbackName",
  "lastMessageNone",
  "lastMessageOwn",
  "unreadCount",
  "renameChat",
  "chatNameLabel",
  "saveName",
  "forgetChat",
  "forgetConfirm",
  "editName",
  "close",
  "language",
] as const satisfies readonly (keyof Strings)[];

/**
 * Words the room shows only in its drawers (invite, name, diagnostics, the notification setting) or in rare states
 * (storage failing, a message too long or refused, a link that cannot open): the room page does not carry them; they
 * come with `/strings/<lang>` once the room has settled (as the drawers do), or when such a state needs them first.
 * Until then those states show without their words.
 */
const LATER_WORDS = [
  "appName",
  "nobodyNow",
  "notifications",
  "notifyOff",
  "notifySender",
  "notifyText",
  "save",
  "inviteLink",
  "inviteHint",
  "copyLink",
  "linkCopied",
  "share",
  "qrCode",
  "copyReport",
  "reportCopied",
  "copyFailed",
  "counters",
  "countSent",
  "countDelivered",
  "countResent",
  "countRejected",
  "countDuplicates",
  "peerLinks",
  "noPeerLinks",
  "colPeer",
  "colPath",
  "colLink",
  "colIce",
  "colCandidates",
  "colRtt",
  "events",
  "noEvents",
  "sendFailed",
  "unreadable",
  "failed",
  "failedTooBig",
  "errorMissingKey",
  "errorBadKey",
  "errorStorage",
  "errorOther",
  "newChatInstead",
  "charCount",
  "messageTooLong",
  "sessionReplaced",
  "roomFull",
  "storageMemory",
  "queuedHint",
  "showEarlier",
] as const satisfies readonly (keyof Strings)[];

/** The words the room's components show, the drawers' and rare states' included. */
export type RoomWords = Omit<Strings, typeof NOT_IN_ROOM[number]>;

/** The words a room page carries as island data: what the room shows before its drawers, in its usual states. */
export type FirstWords = Omit<RoomWords, typeof LATER_WORDS[number]>;

/** A language's words as the room island holds them: those its page carried, and the later ones once fetched. */
export type HeldWords = FirstWords & Partial<Pick<Strings, typeof LATER_WORDS[number]>>;

/** The words a room page carries for a language (see {@link FirstWords}). */
export function firstWords(t: Strings): FirstWords {
  const left: Partial<Strings> = { ...t };
  for (const key of [...NOT_IN_ROOM, ...LATER_WORDS]) delete left[key];
  return left as FirstWords;
}

/** Whether held words include the later ones (fetched, or a whole language such as a test passes). */
export function hasLaterWords(t: HeldWords): t is RoomWords {
  return "copyLink" in t;
}

/** Each language's own name, for the switcher. */
export const LANG_NAMES: Record<Lang, string> = { en: "English", ru: "Русский" };

/** Narrows a string to a language, or undefined. */
export function asLang(value: string | null | undefined): Lang | undefined {
  return value === "en" || value === "ru" ? value : undefined;
}

/** The first supported language in a preference list such as navigator.languages. */
export function preferredLang(tags: readonly string[]): Lang {
  for (const tag of tags) {
    const lang = asLang(tag.trim().slice(0, 2).toLowerCase());
    if (lang) return lang;
  }
  return DEFAULT_LANG;
}

/** The languages of an Accept-Language header, most wanted first. */
export function acceptedLanguages(header: string | null): string[] {
  if (!header) return [];
  return header.split(",")
    .map((part, index) => {
      const [tag, ...params] = part.trim().split(";");
      const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
      return { tag: tag.trim(), q: q ? Number(q.slice(2)) || 0 : 1, index };
    })
    .filter((item) => item.tag && item.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index)
    .map((item) => item.tag);
}

/** What the server decided for a page: the language, and whether `?lang=` forced it. */
export interface LangChoice {
  /** The language to render. */
  lang: Lang;
  /** True when the URL chose it, so the browser must not override it. */
  forced: boolean;
}

/** Picks the page language from `?lang=` or the Accept-Language header. */
export function chooseLang(url: URL, acceptLanguage: string | null): LangChoice {
  const forced = asLang(url.searchParams.get("lang"));
  if (forced) return { lang: forced, forced: true };
  return { lang: preferredLang(acceptedLanguages(acceptLanguage)), forced: false };
}

/** Fills `{name}` placeholders. */
export function format(template: string, values: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => key in values ? String(values[key]) : whole);
}
