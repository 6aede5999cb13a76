// ollama-js against the daemon: `node ollama_client.mjs HOST MODEL CASE`; prints one JSON line.
import { Ollama } from "ollama";

const [host, model, which] = process.argv.slice(2);
const client = new Ollama({ host });
const messages = [{ role: "system", content: "Answer in one word." }, { role: "user", content: "What is the capital of France?" }];
const options = { num_predict: 16, temperature: 0 };

async function run() {
  if (which === "chat") {
    const reply = await client.chat({ model, messages, options });
    return { text: reply.message.content, done: reply.done };
  }
  if (which === "stream") {
    let text = "";
    let chunks = 0;
    let done = false;
    for await (const part of await client.chat({ model, messages, options, stream: true })) {
      chunks += 1;
      text += part.message.content;
      done = part.done;
    }
    return { text, chunks, done };
  }
  if (which === "list") {
    const listed = await client.list();
    return { names: listed.models.map((m) => m.name) };
  }
  if (which === "embed") {
    const batch = await client.embed({ model, input: ["one", "two"] });
    return { count: batch.embeddings.length, dims: batch.embeddings[0].length };
  }
  throw new Error(`unknown case ${which}`);
}

console.log(JSON.stringify(await run()));
