// The daemon library; see the files in its folders.
enum AgentModule {}
