// The eight emotion classes every corpus maps onto, in a fixed order (the model's output order).
/** The eight emotions, in the order of every model's probabilities. */
export const EMOTIONS = ['neutral', 'calm', 'happy', 'sad', 'angry', 'fearful', 'disgust', 'surprised'] as const;
/** One of the eight emotions. */
export type Emotion = (typeof EMOTIONS)[number];

export function isEmotion(value: string): value is Emotion {
  return (EMOTIONS as readonly string[]).includes(value);
}
