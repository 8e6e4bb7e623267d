/**
 * Chat messages: the one shape in which every prompt reaches a model.
 *
 * Environments build them (`envs/<name>/prompts.ts`), the backend ships them to Python, and Python
 * only applies the model's own chat template. An image part has no payload here: it stands for the
 * image of the same sample, which travels as a row of the `images` tensor. A view (one sample's
 * messages) holds at most one image part. This module is a leaf: it imports nothing from `src/`.
 */

/** Who speaks a message. */
export type ChatRole = 'system' | 'user' | 'assistant';

/** A piece of text inside a message. */
export interface TextPart {
  type: 'text';
  text: string;
}

/** The sample's image, placed at this point of the message. */
export interface ImagePart {
  type: 'image';
}

export type ChatPart = TextPart | ImagePart;

/** One turn of a conversation. */
export interface ChatMessage {
  role: ChatRole;
  content: ChatPart[];
}

/** All the messages one sample shows a model (the prompt; the response is generated or given). */
export type ChatView = ChatMessage[];

/** Builds a text part. */
export function text(value: string): TextPart {
  return { type: 'text', text: value };
}

/** Builds the image part. */
export function image(): ImagePart {
  return { type: 'image' };
}

/** True when some message of the view carries the image. */
export function hasImage(view: ChatView): boolean {
  return view.some((message) => message.content.some((part) => part.type === 'image'));
}
