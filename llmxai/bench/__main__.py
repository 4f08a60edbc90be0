from llmxai.bench import main

main()
