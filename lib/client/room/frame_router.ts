/**
 * Routes the server's frames to the room's handlers, one handler per frame
 * type. Frames the room does not act on (`synced`, `pong`, kinds a newer
 * server may add) are dropped here; a `gap` is only logged.
 * @module
 */
import type {
  AcceptedFrame,
  ErrorFrame,
  PresenceFrame,
  RelayedAckFrame,
  RelayedChatFrame,
  RelayedSignalFrame,
  ServerFrame,
  WelcomeFrame,
} from "../../protocol/mod.ts";

/** The room's reactions to server frames. */
export interface FrameHandlers {
  /** Admitted (again): own peer id, token and roster. */
  welcome(frame: WelcomeFrame): void;
  /** A peer joined, dropped, came back or left. */
  presence(frame: PresenceFrame): void;
  /** A relayed chat frame, live or from the log. */
  chat(frame: RelayedChatFrame): void;
  /** The room log holds an own chat frame. */
  accepted(frame: AcceptedFrame): void;
  /** A relayed signal from one peer. */
  signal(frame: RelayedSignalFrame): void;
  /** A relayed ack from one peer (maybe carrying own `accepted`). */
  ack(frame: RelayedAckFrame): void;
  /** An error frame (a close may follow). */
  error(frame: ErrorFrame): void;
  /** Event sink for frames that are only logged. */
  log(name: string, detail?: Record<string, unknown>): void;
}

/** A function that hands each frame to its handler. */
export function createFrameRouter(handlers: FrameHandlers): (frame: ServerFrame) => void {
  return (frame) => {
    switch (frame.type) {
      case "welcome":
        return handlers.welcome(frame);
      case "presence":
        return handlers.presence(frame);
      case "chat":
        return handlers.chat(frame);
      case "accepted":
        return handlers.accepted(frame);
      case "signal":
        return handlers.signal(frame);
      case "ack":
        return handlers.ack(frame);
      case "error":
        return handlers.error(frame);
      case "gap":
        return handlers.log("Room log gap", { from: frame.from, to: frame.to });
    }
  };
}
