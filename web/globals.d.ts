// What the canvas page adds to window (app.js): its record of job events and the shown composite's pixels, read by
// the browser tests and useful in bug reports.
interface Window {
  __redraft: {
    events: Array<{ type: string; job: string; time: number } & Record<string, any>>;
    compositePixels: (x: number, y: number, w: number, h: number) => string;
    /** How many live previews the canvas drew. */
    previewsDrawn?: number;
  };
}
